//! A sender that opens a connection, sends the first verification message and then nothing
//! must not keep the receiver busy forever (issue 15, item 9): after [`OFFER_DEADLINE`] the
//! receive ends with a clear reason and the receiver can take the next transfer. Real
//! `peerdrop-signal` in-process, real WebRTC between the two sides.

mod common;

use common::*;

use std::sync::Arc;
use std::time::{Duration, Instant};

use peerdrop_core::engine::connection::connect_offerer;
use peerdrop_core::engine::receive::OFFER_DEADLINE;
use peerdrop_core::{AutoAccept, CancellationToken, RtcSettings};
use peerdrop_proto::transfer::ControlMsg;

#[tokio::test]
async fn a_sender_that_stops_after_the_first_message_does_not_keep_the_receiver_busy() {
    let server = signal_server().await;
    let url = server.ws_url();
    let receiver = server_node(&url, "receiver").await;
    let code = receiver.code().to_string();

    let attacker = bare_client(&url, "half an offer", "").await;
    let target = attacker.resolve(&code).await.unwrap();
    let rtc = RtcSettings::default();
    let stalled = tokio::spawn(async move {
        let conn = connect_offerer(&attacker, &target, &rtc, 1).await.unwrap();
        let commit = ControlMsg::SasCommit {
            commit: "00".repeat(32),
        };
        conn.control.send_text(&commit.to_json()).await.unwrap();
        // ... and nothing more, while keeping the connection open.
        tokio::time::sleep(OFFER_DEADLINE * 3).await;
        drop(conn);
    });

    let dir = tempfile::tempdir().unwrap();
    let incoming = receiver.next_incoming().await.unwrap();
    let started = Instant::now();
    let result = tokio::time::timeout(
        OFFER_DEADLINE + Duration::from_secs(20),
        incoming.receive(
            dir.path().to_path_buf(),
            AutoAccept,
            Arc::new(|_| {}),
            CancellationToken::new(),
        ),
    )
    .await
    .expect("the receiver must give up on a half offer");
    let err = result
        .expect_err("a half offer is not a transfer")
        .to_string();
    assert!(err.contains("did not complete its offer"), "{err}");
    assert!(started.elapsed() >= OFFER_DEADLINE - Duration::from_secs(1));
    assert_eq!(
        std::fs::read_dir(dir.path()).unwrap().count(),
        0,
        "nothing written"
    );
    stalled.abort();
}
