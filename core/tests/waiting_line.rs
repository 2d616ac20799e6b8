//! The receiver's waiting line ([`peerdrop_core::engine::waiting`]): while a receiver is busy,
//! senders are held and told their place; one that stops waiting leaves the line at once
//! (its `bye`), the others move up, and a sender beyond [`MAX_QUEUED`] is turned away. Real
//! `peerdrop-signal` in-process, real offers from `connect_offerer`.

mod common;

use common::*;

use std::sync::Arc;
use std::time::Duration;

use peerdrop_core::engine::connection::connect_offerer;
use peerdrop_core::engine::waiting::MAX_QUEUED;
use peerdrop_core::signaling::{QueuedWatch, SignalClient};
use peerdrop_core::{CoreError, RtcSettings, WhenBusy};
use tokio::task::JoinHandle;

/// A sender whose offer waits: its signaling client, what it hears of its place, its attempt.
struct Waiting {
    _client: Arc<SignalClient>,
    places: QueuedWatch,
    attempt: JoinHandle<Result<(), CoreError>>,
}

async fn offer(url: &str, code: &str, name: &str) -> Waiting {
    let client = Arc::new(bare_client(url, name, "").await);
    let target = client.resolve(code).await.unwrap();
    let places = client.watch_queued(target.id);
    let attempt = tokio::spawn({
        let client = client.clone();
        async move {
            connect_offerer(&client, &target, &RtcSettings::default(), 1)
                .await
                .map(|_| ())
        }
    });
    Waiting {
        _client: client,
        places,
        attempt,
    }
}

async fn next_place(waiting: &mut Waiting) -> u32 {
    tokio::time::timeout(Duration::from_secs(5), waiting.places.next())
        .await
        .expect("told its place in time")
        .expect("a place")
}

#[tokio::test]
async fn held_senders_are_told_their_place_move_up_and_a_full_line_turns_away() {
    let server = signal_server().await;
    let url = server.ws_url();
    let receiver = server_node(&url, "receiver").await;
    let code = receiver.code().to_string();
    let (done, busy) = tokio::sync::oneshot::channel::<()>();

    let senders = async {
        let mut line = Vec::new();
        for n in 0..MAX_QUEUED {
            let mut waiting = offer(&url, &code, &format!("sender {n}")).await;
            assert_eq!(next_place(&mut waiting).await, n as u32 + 1);
            line.push(waiting);
        }
        // One more than the line holds: turned away at once, with the reason.
        let extra = offer(&url, &code, "one too many").await;
        let refused = tokio::time::timeout(Duration::from_secs(5), extra.attempt)
            .await
            .expect("turned away at once")
            .unwrap();
        match refused {
            Err(CoreError::PeerUnavailable(why)) => {
                assert!(why.contains("waiting line is full"), "{why}")
            }
            other => panic!("expected a refusal, got {other:?}"),
        }
        // The first stops waiting (its attempt is dropped, its signaling connection stays):
        // the others move up.
        let first = line.remove(0);
        first.attempt.abort();
        for (index, waiting) in line.iter_mut().enumerate() {
            let mut place = next_place(waiting).await;
            while place != index as u32 + 1 {
                place = next_place(waiting).await;
            }
        }
        assert_eq!(receiver.waiting(), MAX_QUEUED - 1);
        let _ = done.send(());
        line
    };
    let (_, line) = tokio::join!(receiver.while_busy(busy, WhenBusy::Queue), senders);
    assert_eq!(
        receiver.waiting(),
        MAX_QUEUED - 1,
        "still held for their turn"
    );
    // Turned away together when the receiver stops taking transfers.
    receiver.refuse_waiting("closing");
    for waiting in line {
        let ended = tokio::time::timeout(Duration::from_secs(5), waiting.attempt)
            .await
            .expect("the held sender hears the refusal")
            .unwrap();
        assert!(
            matches!(&ended, Err(CoreError::PeerUnavailable(why)) if why.contains("closing")),
            "{ended:?}"
        );
    }
}
