//! `peerdrop receive --trusted`: a device accepted here before (same certificate) is accepted
//! without a prompt; a new device, and a device whose identity changed, are asked about.

mod common;

use common::*;
use std::io::{Read, Write};
use std::path::Path;
use std::process::{Output, Stdio};
use std::time::Duration;

/// `peerdrop send --json --name NAME --to CODE FILE` from the device living in `home`.
fn send_as(signal: &Signal, name: &str, home: &Path, code: &str, file: &Path) -> Output {
    let child = peerdrop(signal)
        .env("PEERDROP_HOME", home)
        .args(["send", "--json", "--name", name, "--to", code])
        .arg(file)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("spawn peerdrop send");
    finish_child(child, Duration::from_secs(60))
}

#[test]
fn trusted_receives_from_a_known_device_without_asking_and_asks_everyone_else() {
    let signal = Signal::start();
    let src = tempfile::tempdir().unwrap();
    let dest = tempfile::tempdir().unwrap();
    let (laptop_home, stranger_home, lookalike_home, rx_home) =
        (test_home(), test_home(), test_home(), test_home());
    let files: Vec<_> = (0..4)
        .map(|i| {
            let path = src.path().join(format!("file-{i}.bin"));
            random_file(&path, 100_000 + i, 40 + i as u64);
            path
        })
        .collect();

    let mut receiver = Receiver::spawn_with(
        &signal,
        dest.path(),
        &["--trusted", "--keep"],
        &[("PEERDROP_HOME", rx_home.as_os_str())],
    );
    // One "yes" for the first prompt; after it, stdin is closed, so any further prompt
    // reads end-of-file and declines.
    let mut stdin = receiver.child.stdin.take().unwrap();
    stdin.write_all(b"y\n").unwrap();
    drop(stdin);

    // 1. First time: the laptop is new here, so the person is asked (and says yes).
    let first = send_as(&signal, "Laptop", &laptop_home, &receiver.code, &files[0]);
    assert_success(&first, "first send from the laptop");
    // 2. Again: it is trusted now, accepted without a prompt (a prompt would decline).
    let second = send_as(&signal, "Laptop", &laptop_home, &receiver.code, &files[1]);
    assert_success(&second, "second send from the trusted laptop");
    // 3. A device never seen: asked, and the closed stdin declines.
    let stranger = send_as(
        &signal,
        "Stranger",
        &stranger_home,
        &receiver.code,
        &files[2],
    );
    // 4. Another certificate under the laptop's name: never auto-accepted.
    let lookalike = send_as(
        &signal,
        "Laptop",
        &lookalike_home,
        &receiver.code,
        &files[3],
    );
    for (what, sent) in [("stranger", &stranger), ("look-alike", &lookalike)] {
        assert_eq!(
            sent.status.code(),
            Some(3),
            "the {what}'s send must be declined (exit 3):\nstdout: {}\nstderr: {}",
            String::from_utf8_lossy(&sent.stdout),
            String::from_utf8_lossy(&sent.stderr)
        );
    }

    receiver.child.kill().unwrap();
    receiver.child.wait().unwrap();
    let mut stderr = String::new();
    receiver
        .child
        .stderr
        .take()
        .unwrap()
        .read_to_string(&mut stderr)
        .unwrap();
    assert_eq!(
        stderr.matches("Accept? [y/N]").count(),
        3,
        "asked for the new laptop, the stranger and the look-alike only:\n{stderr}"
    );
    assert_eq!(
        stderr.matches("a trusted device").count(),
        1,
        "one transfer accepted as trusted:\n{stderr}"
    );
    assert!(
        stderr.contains("identity CHANGED"),
        "the look-alike is shown as a changed identity:\n{stderr}"
    );
    let got = hash_tree(dest.path());
    let sent = hash_tree(src.path());
    assert_eq!(
        got.keys().collect::<Vec<_>>(),
        vec!["file-0.bin", "file-1.bin"],
        "only the laptop's two files arrived"
    );
    for (name, hash) in &got {
        assert_eq!(Some(hash), sent.get(name), "{name} arrived intact");
    }
}
