//! A flood of offers from one peer cannot grow the receiver's memory: at most
//! `MAX_PENDING_OFFERS` wait for the front end; the rest are answered `bye` at once (issue 15,
//! item 8). Real `peerdrop-signal` in-process, real WebSocket clients.

use std::time::Duration;

use peerdrop_core::signaling::{Presentation, SessionSignal, SignalClient, MAX_PENDING_OFFERS};
use peerdrop_core::ClientTls;
use peerdrop_proto::signal::{DeviceKind, SignalData};
use peerdrop_signal::{ServerConfig, SignalServer};

fn me(name: &str) -> Presentation {
    Presentation {
        name: name.into(),
        kind: DeviceKind::Cli,
        fingerprint: "AB:CD".into(),
    }
}

#[tokio::test]
async fn a_flood_of_offers_is_turned_away_beyond_the_pending_limit() {
    let server = SignalServer::bind(ServerConfig::new("127.0.0.1:0".parse().unwrap()))
        .await
        .unwrap()
        .spawn();
    let url = server.ws_url();
    let receiver = SignalClient::connect(&url, &me("receiver"), &ClientTls::none())
        .await
        .unwrap();
    let attacker = SignalClient::connect(&url, &me("attacker"), &ClientTls::none())
        .await
        .unwrap();

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
