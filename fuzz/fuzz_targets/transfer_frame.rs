//! What a peer sends over the data channels: binary data frames and JSON control messages.
//! Decoding must never panic; whatever decodes must mean exactly what its bytes say.
#![no_main]

use libfuzzer_sys::fuzz_target;
use peerdrop_proto::transfer::{
    data_payload_budget, ControlMsg, DataFrame, DATA_HEADER_BYTES, MAX_DATA_FRAME_BYTES,
};

fuzz_target!(|data: &[u8]| {
    match DataFrame::decode(data) {
        Ok((frame, payload)) => {
            assert!(data.len() >= DATA_HEADER_BYTES && data.len() <= MAX_DATA_FRAME_BYTES);
            assert!(payload.len() <= data_payload_budget(MAX_DATA_FRAME_BYTES));
            assert_eq!(payload, &data[DATA_HEADER_BYTES..]);
            // Re-encoding gives back the very same bytes.
            assert_eq!(frame.encode(payload), data);
        }
        Err(_) => {
            assert!(
                data.len() < DATA_HEADER_BYTES
                    || data.len() > MAX_DATA_FRAME_BYTES
                    || data[0] != 0x01
            );
        }
    }
    if let Ok(text) = std::str::from_utf8(data) {
        if let Ok(msg) = ControlMsg::from_json(text) {
            // What we would send back parses to the same message.
            let again = ControlMsg::from_json(&msg.to_json()).expect("own output parses");
            assert_eq!(again, msg);
        }
    }
});
