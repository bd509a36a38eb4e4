//! The screen decoder on hostile input: a sequence of frames (each a u16
//! length and its bytes) against small limits. Errors are fine; panics,
//! allocations past the limits and frames of the wrong size are not.
#![no_main]

use libfuzzer_sys::fuzz_target;
use lifeline_proto::screen::{Decoder, Limits};

fuzz_target!(|data: &[u8]| {
    let limits = Limits {
        max_width: 512,
        max_height: 512,
        max_pixels: 512 * 512,
    };
    let mut d = Decoder::with_limits(limits);
    let mut rest = data;
    while rest.len() >= 2 {
        let len = usize::from(u16::from_be_bytes([rest[0], rest[1]])).min(rest.len() - 2);
        let frame = &rest[2..2 + len];
        rest = &rest[2 + len..];
        if let Ok(f) = d.decode(frame) {
            assert!(f.width() <= 512 && f.height() <= 512);
            assert_eq!(f.pixels().len(), (f.width() * f.height()) as usize);
        }
    }
});
