//! Both sides show the same four-word phrase, derived from both DTLS certificates; devices
//! keep their certificate between runs, so a device trusted once is recognised, and a
//! remembered name that comes back with another certificate is a loud warning that `--yes`
//! does not wave through.

mod common;

use common::*;
use std::ffi::OsStr;
use std::path::Path;
use std::time::Duration;

/// One transfer of `file` between the devices living in `tx_home` and `rx_home`; returns the
/// sender's output and the receiver's (success, stderr, events).
fn transfer(
    signal: &Signal,
    file: &Path,
    tx_home: &Path,
    rx_home: &Path,
    dest: &Path,
) -> (std::process::Output, bool, String, Vec<serde_json::Value>) {
    let receiver = Receiver::spawn_with(
        signal,
        dest,
        &["--yes"],
        &[("PEERDROP_HOME", rx_home.as_os_str())],
    );
    let sent = send_with(
        signal,
        &receiver.code,
        &[file],
        &["--json"],
        &[("PEERDROP_HOME", tx_home.as_os_str())],
    );
    let (ok, stderr, lines) = receiver.finish_lines(Duration::from_secs(30));
    (sent, ok, stderr, json_events(&lines.join("\n")))
}

fn verify_event(events: &[serde_json::Value]) -> serde_json::Value {
    let found = events_of(events, "verify");
    assert_eq!(found.len(), 1, "exactly one verify event: {events:#?}");
    found[0].clone()
}

#[test]
fn both_sides_show_the_same_phrase_and_recognise_each_other_next_time() {
    let signal = Signal::start();
    let src = tempfile::tempdir().unwrap();
    let file = src.path().join("notes.txt");
    std::fs::write(&file, b"for your eyes only").unwrap();
    let (tx_home, rx_home) = (test_home(), test_home());

    let dest = tempfile::tempdir().unwrap();
    let (sent, ok, stderr, rx_events) = transfer(&signal, &file, &tx_home, &rx_home, dest.path());
    assert_success(&sent, "first send");
    assert!(ok, "{stderr}");
    let tx_verify = verify_event(&json_events(&String::from_utf8_lossy(&sent.stdout)));
    let rx_verify = verify_event(&rx_events);
    let phrase = tx_verify["phrase"].as_str().unwrap();
    assert_eq!(phrase.split(' ').count(), 4, "{phrase}");
    assert_eq!(
        tx_verify["phrase"], rx_verify["phrase"],
        "same words on both screens"
    );
    assert_eq!(tx_verify["known"], false);
    assert_eq!(rx_verify["known"], false);
    assert_eq!(rx_verify["peer"], "test sender");
    assert_eq!(tx_verify["peer"], "test receiver");
    assert_ne!(
        tx_verify["fingerprint"], rx_verify["fingerprint"],
        "each side sees the other's certificate"
    );
    // The receiver is asked only after the phrase is known.
    let order: Vec<&str> = rx_events
        .iter()
        .map(|e| e["event"].as_str().unwrap())
        .collect();
    let verify_at = order.iter().position(|e| *e == "verify").unwrap();
    let incoming_at = order.iter().position(|e| *e == "incoming").unwrap();
    assert!(verify_at < incoming_at, "{order:?}");

    // The same two devices again: both recognise the other, the certificates are the same.
    let dest2 = tempfile::tempdir().unwrap();
    let (sent, ok, stderr, rx_events) = transfer(&signal, &file, &tx_home, &rx_home, dest2.path());
    assert_success(&sent, "second send");
    assert!(ok, "{stderr}");
    let tx_again = verify_event(&json_events(&String::from_utf8_lossy(&sent.stdout)));
    let rx_again = verify_event(&rx_events);
    assert_eq!(tx_again["known"], true);
    assert_eq!(rx_again["known"], true);
    assert_eq!(tx_again["fingerprint"], tx_verify["fingerprint"]);
    assert_eq!(rx_again["fingerprint"], rx_verify["fingerprint"]);
    assert_ne!(
        tx_again["phrase"], tx_verify["phrase"],
        "fresh nonces: every transfer has its own phrase"
    );
    assert_eq!(tx_again["phrase"], rx_again["phrase"]);

    // The identity is a private file in the home folder.
    let mode = std::os::unix::fs::PermissionsExt::mode(
        &std::fs::metadata(tx_home.join("identity.pem"))
            .unwrap()
            .permissions(),
    );
    assert_eq!(mode & 0o777, 0o600);
}

#[test]
fn a_known_name_with_a_new_certificate_is_a_loud_warning_and_not_auto_accepted() {
    let signal = Signal::start();
    let src = tempfile::tempdir().unwrap();
    let file = src.path().join("invoice.pdf");
    std::fs::write(&file, b"pay to the order of").unwrap();
    let (tx_home, rx_home) = (test_home(), test_home());
    let dest = tempfile::tempdir().unwrap();
    let (sent, ok, _, _) = transfer(&signal, &file, &tx_home, &rx_home, dest.path());
    assert!(
        sent.status.success() && ok,
        "first transfer pins the sender"
    );

    // Someone else now calls itself "test sender" (a new certificate).
    let impostor_home = test_home();
    let dest2 = tempfile::tempdir().unwrap();
    let (sent, ok, rx_stderr, rx_events) =
        transfer(&signal, &file, &impostor_home, &rx_home, dest2.path());
    let rx_verify = verify_event(&rx_events);
    assert_eq!(rx_verify["changed"], true, "{rx_verify}");
    assert_eq!(rx_verify["known"], false);
    assert!(
        rx_stderr.contains("CHANGED"),
        "a loud warning on the receiver: {rx_stderr}"
    );
    assert!(!ok, "--yes does not accept a changed identity");
    assert!(!sent.status.success());
    let tx_stderr = String::from_utf8_lossy(&sent.stderr);
    assert!(tx_stderr.contains("identity changed"), "{tx_stderr}");
    assert!(hash_tree(dest2.path()).is_empty());

    // The human output says it loudly too.
    let human = {
        let receiver = Receiver::spawn_with(
            &signal,
            tempfile::tempdir().unwrap().path(),
            &["--yes"],
            &[("PEERDROP_HOME", rx_home.as_os_str())],
        );
        let out = send_with(
            &signal,
            &receiver.code,
            &[&file],
            &[],
            &[("PEERDROP_HOME", OsStr::new(&impostor_home))],
        );
        drop(receiver);
        String::from_utf8_lossy(&out.stderr).into_owned()
    };
    assert!(
        human.contains("Verification phrase:"),
        "the sender prints the phrase: {human}"
    );
}

/// Issue 15, item 1: a sender that trusted "test receiver" once meets another certificate
/// under that name (a hostile server, a lookalike device). It must send nothing — not even the
/// file list — and exit with the "refused" code; only the explicit flag goes on, and the pin
/// of the real device is never replaced.
#[test]
fn a_changed_identity_gets_nothing_without_confirmation() {
    let signal = Signal::start();
    let src = tempfile::tempdir().unwrap();
    let file = src.path().join("payroll.xlsx");
    std::fs::write(&file, b"salaries of everyone").unwrap();
    let (tx_home, rx_home) = (test_home(), test_home());
    let dest = tempfile::tempdir().unwrap();
    let (sent, ok, _, _) = transfer(&signal, &file, &tx_home, &rx_home, dest.path());
    assert!(
        sent.status.success() && ok,
        "first transfer pins the receiver"
    );

    // Another certificate now answers as "test receiver".
    let impostor_home = test_home();
    let impostor_dest = tempfile::tempdir().unwrap();
    let mut impostor = Receiver::spawn_with(
        &signal,
        impostor_dest.path(),
        &["--yes"],
        &[("PEERDROP_HOME", impostor_home.as_os_str())],
    );
    let refused = send_with(
        &signal,
        &impostor.code,
        &[&file],
        &["--json"],
        &[("PEERDROP_HOME", tx_home.as_os_str())],
    );
    assert_eq!(
        refused.status.code(),
        Some(6),
        "refused, with its own exit code: {}",
        String::from_utf8_lossy(&refused.stderr)
    );
    let stderr = String::from_utf8_lossy(&refused.stderr);
    assert!(
        stderr.contains("refused") && stderr.contains("--accept-changed-identity"),
        "a one-line reason and the way out: {stderr}"
    );
    let events = json_events(&String::from_utf8_lossy(&refused.stdout));
    let warning = events_of(&events, "identity_changed");
    assert_eq!(warning.len(), 1, "{events:#?}");
    assert_eq!(warning[0]["pinned_as"], "test receiver");
    assert!(events_of(&events, "accepted").is_empty());
    // The impostor saw no offer at all: no file list, no prompt.
    std::thread::sleep(Duration::from_secs(2));
    while let Ok(line) = impostor.lines_now() {
        assert!(
            !line.contains(r#""event":"incoming""#) && !line.contains("payroll"),
            "the impostor learned about the files: {line}"
        );
    }
    assert!(hash_tree(impostor_dest.path()).is_empty());
    drop(impostor);

    // The person says they reinstalled it: the flag goes on (and pins the new identity too).
    let impostor = Receiver::spawn_with(
        &signal,
        impostor_dest.path(),
        &["--yes"],
        &[("PEERDROP_HOME", impostor_home.as_os_str())],
    );
    let confirmed = send_with(
        &signal,
        &impostor.code,
        &[&file],
        &["--json", "--accept-changed-identity"],
        &[("PEERDROP_HOME", tx_home.as_os_str())],
    );
    assert_success(&confirmed, "send with --accept-changed-identity");
    let (ok, stderr) = impostor.finish(Duration::from_secs(30));
    assert!(ok, "{stderr}");
    assert_eq!(hash_tree(impostor_dest.path()).len(), 1);

    // The device trusted first is still trusted: its pin was not replaced.
    let dest3 = tempfile::tempdir().unwrap();
    let (sent, ok, stderr, _) = transfer(&signal, &file, &tx_home, &rx_home, dest3.path());
    assert_success(&sent, "send to the original device");
    assert!(ok, "{stderr}");
    let verify = verify_event(&json_events(&String::from_utf8_lossy(&sent.stdout)));
    assert_eq!(verify["known"], true, "{verify}");
    assert_eq!(verify["changed"], false, "{verify}");
}

/// Issue 15, item 2: a hostile server can force the encrypted relay (drop every candidate).
/// There each side proves its certificate by signing the Noise handshake hash, so a relay
/// transfer recognises a pinned device, and a changed one is refused exactly as on a direct
/// connection.
#[test]
fn a_relay_transfer_detects_a_changed_pinned_device() {
    let signal = Signal::start();
    let src = tempfile::tempdir().unwrap();
    let file = src.path().join("keys.txt");
    std::fs::write(&file, b"the spare key is under the mat").unwrap();
    let (tx_home, rx_home) = (test_home(), test_home());
    let dest = tempfile::tempdir().unwrap();
    let (sent, ok, _, _) = transfer(&signal, &file, &tx_home, &rx_home, dest.path());
    assert!(sent.status.success() && ok, "a direct transfer pins both");

    let relay = |home: &Path, extra: &[&str]| {
        let dest = tempfile::tempdir().unwrap();
        let receiver = Receiver::spawn_with(
            &signal,
            dest.path(),
            &["--yes"],
            &[
                ("PEERDROP_HOME", home.as_os_str()),
                ("PEERDROP_FALLBACK", OsStr::new("force")),
            ],
        );
        let mut args = vec!["--json"];
        args.extend_from_slice(extra);
        let sent = send_with(
            &signal,
            &receiver.code,
            &[&file],
            &args,
            &[
                ("PEERDROP_HOME", tx_home.as_os_str()),
                ("PEERDROP_FALLBACK", OsStr::new("force")),
            ],
        );
        (sent, receiver, dest)
    };

    // The same device over the relay: recognised, on both sides.
    let (sent, receiver, dest2) = relay(&rx_home, &[]);
    assert_success(&sent, "relay send to the pinned device");
    let events = json_events(&String::from_utf8_lossy(&sent.stdout));
    assert_eq!(
        events_of(&events, "path")[0]["path"],
        "fallback",
        "{events:#?}"
    );
    let verify = verify_event(&events);
    assert_eq!(verify["known"], true, "proved over the relay: {verify}");
    let (ok, stderr, lines) = receiver.finish_lines(Duration::from_secs(30));
    assert!(ok, "{stderr}");
    assert_eq!(verify_event(&json_events(&lines.join("\n")))["known"], true);
    assert_eq!(hash_tree(dest2.path()).len(), 1);

    // Another certificate under the pinned name, over the relay: refused, nothing sent.
    let impostor_home = test_home();
    let (sent, receiver, dest3) = relay(&impostor_home, &[]);
    assert_eq!(
        sent.status.code(),
        Some(6),
        "{}",
        String::from_utf8_lossy(&sent.stderr)
    );
    let events = json_events(&String::from_utf8_lossy(&sent.stdout));
    assert_eq!(
        events_of(&events, "identity_changed").len(),
        1,
        "{events:#?}"
    );
    drop(receiver);
    assert!(hash_tree(dest3.path()).is_empty());
}
