//! What reaches the signaling server from any client, and what reaches a client from a
//! (possibly malicious) server: parsing never panics and round-trips.
#![no_main]

use libfuzzer_sys::fuzz_target;
use peerdrop_proto::signal::{ClientMsg, ServerMsg};

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    if let Ok(msg) = ClientMsg::from_json(text) {
        assert_eq!(
            ClientMsg::from_json(&msg.to_json()).expect("own output parses"),
            msg
        );
    }
    if let Ok(msg) = ServerMsg::from_json(text) {
        assert_eq!(
            ServerMsg::from_json(&msg.to_json()).expect("own output parses"),
            msg
        );
    }
});
