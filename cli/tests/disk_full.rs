//! The receiver's disk fills up mid-file (a small tmpfs, mounted by the test as root): both
//! sides stop with a clear reason, no final file appears, and the `.part` with its journal is
//! kept, so once space is freed the same send resumes and completes, verified.

mod common;

use common::*;
use std::ffi::OsStr;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Duration;

/// Size of the receiver's disk: larger than one journal checkpoint (64 MiB of new data, or
/// 1 s), so the journal records progress before the disk fills; the file is twice as large.
const DISK_MIB: u32 = 96;

/// A tmpfs of `mib` MiB mounted on a fresh folder; unmounted on drop.
struct SmallDisk {
    dir: tempfile::TempDir,
}

impl SmallDisk {
    fn mount(mib: u32) -> Option<SmallDisk> {
        // SAFETY: geteuid has no preconditions.
        if unsafe { libc::geteuid() } != 0 {
            return None;
        }
        let dir = tempfile::tempdir().unwrap();
        let status = Command::new("mount")
            .args([
                "-t",
                "tmpfs",
                "-o",
                &format!("size={mib}m,mode=0755"),
                "tmpfs",
            ])
            .arg(dir.path())
            .status()
            .expect("run mount");
        assert!(status.success(), "mounting a tmpfs failed");
        Some(SmallDisk { dir })
    }

    fn grow(&self, mib: u32) {
        let status = Command::new("mount")
            .args(["-o", &format!("remount,size={mib}m"), "tmpfs"])
            .arg(self.dir.path())
            .status()
            .expect("run mount");
        assert!(status.success(), "remount failed");
    }

    fn path(&self) -> &Path {
        self.dir.path()
    }
}

impl Drop for SmallDisk {
    fn drop(&mut self) {
        let _ = Command::new("umount")
            .arg("-l")
            .arg(self.dir.path())
            .status();
    }
}

#[test]
fn disk_full_fails_both_sides_and_keeps_the_part_for_resume() {
    let Some(disk) = SmallDisk::mount(DISK_MIB) else {
        eprintln!("SKIPPED: mounting a small tmpfs needs root");
        return;
    };
    let signal = Signal::start();
    let src = tempfile::tempdir().unwrap();
    let file = src.path().join("backup.tar");
    let size = 2 * DISK_MIB as usize * 1024 * 1024;
    random_file(&file, size, 5);
    let dest: PathBuf = disk.path().join("inbox");
    let rx_home = test_home();
    let tx_home = test_home();
    let rx_env = [("PEERDROP_HOME", rx_home.as_os_str())];
    let tx_env = [
        ("PEERDROP_HOME", tx_home.as_os_str()),
        ("PEERDROP_LOG", OsStr::new("warn,peerdrop::stats=info")),
    ];

    let receiver = Receiver::spawn_with(&signal, &dest, &["--yes"], &rx_env);
    let sent = send_with(&signal, &receiver.code, &[&file], &["--json"], &tx_env);
    let (rx_status, rx_stderr, rx_lines) = receiver.finish_status(Duration::from_secs(30));
    let tx_stderr = String::from_utf8_lossy(&sent.stderr);
    // A full disk is its own ending on both sides: exit code 8, and the `failed` event says
    // `disk_full` (scripts and the app answer it with "free space and send again").
    assert_eq!(sent.status.code(), Some(8), "sender: {tx_stderr}");
    assert_eq!(rx_status.code(), Some(8), "receiver: {rx_stderr}");
    for (side, lines) in [
        (
            "sender",
            json_events(&String::from_utf8_lossy(&sent.stdout)),
        ),
        ("receiver", json_events(&rx_lines.join("\n"))),
    ] {
        let failed = events_of(&lines, "failed");
        assert_eq!(failed.len(), 1, "{side}: {lines:#?}");
        assert_eq!(failed[0]["cause"], "disk_full", "{side}: {failed:#?}");
    }
    assert!(
        rx_stderr.contains("disk full"),
        "receiver says why: {rx_stderr}"
    );
    assert!(
        tx_stderr.contains("peerdrop: the receiver stopped the transfer")
            && tx_stderr.contains("disk full"),
        "sender says why: {tx_stderr}"
    );
    assert!(
        final_files(&dest).is_empty(),
        "no final file: {:?}",
        final_files(&dest)
    );
    let staged = staged_files(&dest);
    assert!(
        staged.iter().any(|p| p.ends_with("/0.part"))
            && staged.iter().any(|p| p.ends_with("/journal")),
        "the part and journal are kept for resume: {staged:?}"
    );

    // Space is freed; the same send resumes from what the journal recorded.
    disk.grow(3 * DISK_MIB);
    let receiver = Receiver::spawn_with(&signal, &dest, &["--yes"], &rx_env);
    let again = send_with(&signal, &receiver.code, &[&file], &["--json"], &tx_env);
    assert_success(&again, "send after freeing space");
    let (ok, stderr) = receiver.finish(Duration::from_secs(30));
    assert!(ok, "{stderr}");
    assert_eq!(
        blake3::hash(&std::fs::read(dest.join("backup.tar")).unwrap()),
        blake3::hash(&std::fs::read(&file).unwrap())
    );
    assert!(staged_files(&dest).is_empty());
    let events = json_events(&String::from_utf8_lossy(&again.stdout));
    let resumed = events_of(&events, "resumed");
    assert_eq!(resumed.len(), 1, "{events:#?}");
    let offset = resumed[0]["offset"].as_u64().unwrap();
    assert!(
        offset > 0,
        "resumed from what fit on the disk, not from zero: {offset}"
    );
    let (sent_bytes, _) = sender_summary(&String::from_utf8_lossy(&again.stderr)).unwrap();
    assert_eq!(sent_bytes, size as u64 - offset);
    eprintln!("disk full at ~{DISK_MIB} MiB; resumed at {offset} bytes, sent {sent_bytes} more");
}
