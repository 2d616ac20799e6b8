//! A flood of offers from one peer cannot grow the receiver's memory: at most
//! `MAX_PENDING_OFFERS` wait for the front end; the rest are answered `bye` at once (issue 15,
//! item 8). Real `peerdrop-signal` in-process, real WebSocket clients.

mod common;

use common::*;

use std::time::Duration;

use peerdrop_core::signaling::{SessionSignal, MAX_PENDING_OFFERS};
use peerdrop_proto::signal::SignalData;

#[tokio::test]
async fn a_flood_of_offers_is_turned_away_beyond_the_pending_limit() {
    let server = signal_server().await;
    let url = server.ws_url();
    let receiver = bare_client(&url, "receiver", "AB:CD").await;
    let attacker = bare_client(&url, "attacker", "AB:CD").await;

    const FLOOD: usize = 60; // within the server's message burst, so all reach the receiver
    let mut links = Vec::new();
    for _ in 0..FLOOD {
        let session = uuid::Uuid::new_v4();
        let link = attacker.open_session(session);
        link.send(
            receiver.id(),
            SignalData::Offer {
                session,
                sdp: "v=0 (not a real offer)".into(),
            },
        )
        .unwrap();
        links.push(link);
    }

    // The offers past the limit (the latest ones) are answered at once.
    for link in &mut links[MAX_PENDING_OFFERS..] {
        match tokio::time::timeout(Duration::from_secs(5), link.recv()).await {
            Ok(SessionSignal::Signal {
                data: SignalData::Bye { reason, .. },
                ..
            }) => assert!(reason.contains("too many offers"), "{reason}"),
            other => panic!("an offer past the limit got {other:?}, not a bye"),
        }
    }

    // Exactly the limit is waiting.
    let mut waiting = 0;
    while let Ok(Some(_offer)) =
        tokio::time::timeout(Duration::from_millis(300), receiver.next_offer()).await
    {
        waiting += 1;
    }
    assert_eq!(waiting, MAX_PENDING_OFFERS);
    server.shutdown().await.unwrap();
}
