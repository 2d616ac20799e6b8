//! The sender's file is written to while it is being sent (same size, bytes in the middle):
//! the sender reports it and stops, the receiver never saves a torn mixture of old and new.

mod common;

use common::*;
use std::os::unix::fs::FileExt;
use std::time::Duration;

#[test]
fn a_file_modified_during_the_transfer_is_reported_and_never_saved() {
    let signal = Signal::start();
    let src = tempfile::tempdir().unwrap();
    let file = src.path().join("database.db");
    let size = 200 * 1024 * 1024;
    random_file(&file, size, 11);
    let dest = tempfile::tempdir().unwrap();
    let mut receiver = Receiver::spawn(&signal, dest.path(), &["--yes"]);
    let sender = spawn_sender(&signal, &receiver.code, &[&file], &[]);
    receiver.wait_for(r#""event":"accepted""#, Duration::from_secs(60));
    // Another program keeps writing into the file (keeping its size) while it is being read.
    let stop = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
    let writer = {
        let (file, stop) = (file.clone(), stop.clone());
        std::thread::spawn(move || {
            let handle = std::fs::File::options().write(true).open(&file).unwrap();
            let mut writes = 0u32;
            while !stop.load(std::sync::atomic::Ordering::Relaxed) {
                handle
                    .write_all_at(&[0xAB; 4096], (size / 2) as u64)
                    .unwrap();
                writes += 1;
                std::thread::sleep(Duration::from_millis(2));
            }
            writes
        })
    };
    let out = finish_child(sender, Duration::from_secs(60));
    stop.store(true, std::sync::atomic::Ordering::Relaxed);
    assert!(writer.join().unwrap() > 0);
    let tx_stderr = String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success(), "must not claim success");
    assert!(
        tx_stderr.contains("modified while being sent") && tx_stderr.contains("database.db"),
        "sender says what happened: {tx_stderr}"
    );
    let (ok, rx_stderr) = receiver.finish(Duration::from_secs(20));
    assert!(!ok);
    assert!(
        rx_stderr.contains("modified while being sent"),
        "receiver learns why: {rx_stderr}"
    );
    assert!(
        final_files(dest.path()).is_empty(),
        "no torn file is ever saved: {:?}",
        final_files(dest.path())
    );
}
