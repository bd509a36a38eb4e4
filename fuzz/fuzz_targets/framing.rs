//! Length-prefixed framing: bytes arrive in arbitrary pieces; the decoder
//! never yields a frame over its maximum and never panics, and each frame
//! it yields goes through the control-stream message decoders. The same
//! bytes read as end-to-end (varint-length) frames never give a length
//! over the maximum or a prefix over five bytes.
#![no_main]

use libfuzzer_sys::fuzz_target;
use lifeline_proto::{AgentToRelay, FrameDecoder, Hello, compact_header, decode_message};

const MAX: usize = 4096;

fuzz_target!(|data: &[u8]| {
    let Some((&split, bytes)) = data.split_first() else {
        return;
    };
    let piece = usize::from(split).max(1);
    let mut at = 0;
    while let Ok(Some((prefix, len))) = compact_header(&bytes[at..], MAX) {
        assert!((1..=5).contains(&prefix) && (1..=MAX).contains(&len));
        at += prefix + len;
        if at >= bytes.len() {
            break;
        }
    }
    let mut d = FrameDecoder::new(MAX);
    for chunk in bytes.chunks(piece) {
        d.push(chunk);
        loop {
            match d.next_frame() {
                Ok(Some(frame)) => {
                    assert!(frame.len() <= MAX);
                    let _ = decode_message::<Hello>(&frame);
                    let _ = decode_message::<AgentToRelay>(&frame);
                }
                Ok(None) => break,
                Err(_) => return,
            }
        }
    }
});
