//! A malicious sender (built from the core library, so it can lie in its offer) announces
//! paths that try to escape the receiver's folder. The real `peerdrop receive` must refuse the
//! transfer with a clear error and write nothing anywhere.

mod common;

use common::*;
use peerdrop_core::store::OutgoingFile;
use peerdrop_core::{CancellationToken, Node, NodeConfig, RtcSettings, SendPlan};
use peerdrop_proto::signal::DeviceKind;
use peerdrop_proto::transfer::FileEntry;
use std::sync::Arc;
use std::time::Duration;

const HOSTILE_PATHS: &[&str] = &[
    "../escaped.txt",
    "/tmp/peerdrop-absolute-escape.txt",
    "..\\..\\escaped.txt",
    "C:/Windows/escaped.txt",
    "\\\\server\\share\\escaped.txt",
    "ok/../../escaped.txt",
    "evil\u{1b}[2J.txt",
];

#[test]
fn hostile_paths_are_refused_and_nothing_is_written() {
    let signal = Signal::start();
    let sandbox = tempfile::tempdir().unwrap();
    let dest = sandbox.path().join("downloads");
    std::fs::create_dir(&dest).unwrap();
    let payload = sandbox.path().join("payload.bin");
    std::fs::write(
        &payload,
        b"if you can read this outside downloads/, the receiver is broken",
    )
    .unwrap();
    let runtime = tokio::runtime::Runtime::new().unwrap();

    for hostile in HOSTILE_PATHS {
        let receiver = Receiver::spawn(&signal, &dest, &["--yes"]);
        let plan = SendPlan::from_entries(vec![OutgoingFile {
            entry: FileEntry {
                index: 0,
                path: hostile.to_string(),
                size: 64,
            },
            source: payload.clone(),
        }]);
        let result = runtime.block_on(async {
            let rtc = RtcSettings {
                udp_bind: vec!["127.0.0.1:0".into()],
                identity: Some(peerdrop_core::identity::Identity::ephemeral().unwrap()),
                ..RtcSettings::default()
            };
            let config = NodeConfig {
                server_url: Some(signal.url.clone()),
                lan: peerdrop_core::LanRole::Off,
                tls: peerdrop_core::ClientTls::none(),
                name: "mallory".into(),
                kind: DeviceKind::Cli,
                rtc,
                home: None,
            };
            let node = Node::connect(config).await.unwrap();
            let peer = node.resolve(&receiver.code).await.unwrap();
            node.send(
                &peer,
                plan,
                Arc::new(|_| {}),
                CancellationToken::new(),
                &Default::default(),
            )
            .await
        });
        let err = result.expect_err("the receiver must refuse").to_string();
        assert!(
            err.contains("refused") && err.contains("unsafe file name"),
            "{hostile:?}: sender sees why: {err}"
        );
        let (ok, stderr) = receiver.finish(Duration::from_secs(15));
        assert!(!ok, "{hostile:?}: receiver exits non-zero");
        assert!(
            stderr.contains("unsafe file name"),
            "{hostile:?}: receiver says why: {stderr}"
        );
        assert!(
            !stderr.contains('\u{1b}'),
            "no escape sequence reaches the terminal"
        );
    }

    assert!(
        hash_tree(&dest).is_empty(),
        "nothing written in the destination"
    );
    let mut outside: Vec<_> = std::fs::read_dir(sandbox.path())
        .unwrap()
        .map(|e| e.unwrap().file_name())
        .collect();
    outside.sort();
    assert_eq!(
        outside,
        ["downloads", "payload.bin"],
        "nothing written next to it"
    );
    assert!(!std::path::Path::new("/tmp/peerdrop-absolute-escape.txt").exists());
}
