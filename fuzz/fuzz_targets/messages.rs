//! Every message type of the wire: the first byte picks the type, the rest
//! is its payload. Decoding errors or succeeds, never panics; what decodes
//! encodes again and decodes to the same value.
#![no_main]

use libfuzzer_sys::fuzz_target;
use lifeline_proto::{
    AgentToRelay, Hello, HelloReply, RelayToAgent, RelayToConsole, Request, StreamHeader,
    chat::ChatMsg,
    decode_message, encode_message,
    input::{InputMsg, InputReply},
    view::{AgentToViewer, ViewerToAgent},
};
use serde::{Serialize, de::DeserializeOwned};

fn check<T: Serialize + DeserializeOwned + PartialEq + std::fmt::Debug>(payload: &[u8]) {
    if let Ok(msg) = decode_message::<T>(payload) {
        let framed = encode_message(&msg, usize::MAX).expect("a decoded message encodes");
        let again: T = decode_message(&framed[4..]).expect("and decodes again");
        assert_eq!(again, msg);
    }
}

fuzz_target!(|data: &[u8]| {
    let Some((&kind, payload)) = data.split_first() else {
        return;
    };
    match kind % 12 {
        0 => check::<Hello>(payload),
        1 => check::<HelloReply>(payload),
        2 => check::<AgentToRelay>(payload),
        3 => check::<RelayToAgent>(payload),
        4 => check::<Request>(payload),
        5 => check::<RelayToConsole>(payload),
        6 => check::<StreamHeader>(payload),
        7 => check::<ViewerToAgent>(payload),
        8 => check::<AgentToViewer>(payload),
        9 => check::<InputMsg>(payload),
        10 => check::<InputReply>(payload),
        _ => check::<ChatMsg>(payload),
    }
});
