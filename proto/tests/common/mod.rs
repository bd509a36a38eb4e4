//! Hand-built screen frames for the decoder tests.

#![allow(dead_code, clippy::unwrap_used)]

use lifeline_proto::screen::wire::{FLAG_KEY, MAGIC, OP_SOLID, VERSION};
use lifeline_proto::screen::{DecodeError, Decoder};

pub fn varint(out: &mut Vec<u8>, mut v: u32) {
    while v >= 0x80 {
        out.push((v as u8) | 0x80);
        v >>= 7;
    }
    out.push(v as u8);
}

/// A hand-built frame with an explicit raw body length: header fields (the
/// magic, version and size only on key frames, as the wire has them) and
/// the body bytes.
pub fn frame_with(
    flags: u8,
    seq: u8,
    size: (u32, u32),
    records: u32,
    raw_len: u32,
    body: &[u8],
) -> Vec<u8> {
    let mut out = Vec::new();
    if flags & FLAG_KEY != 0 {
        out.extend_from_slice(&MAGIC);
        out.push(VERSION);
    }
    out.push(flags);
    out.push(seq);
    if flags & FLAG_KEY != 0 {
        varint(&mut out, size.0);
        varint(&mut out, size.1);
    }
    varint(&mut out, records);
    varint(&mut out, raw_len);
    out.extend_from_slice(body);
    out
}

/// A hand-built frame with a plain body.
pub fn frame_bytes(flags: u8, seq: u8, w: u32, h: u32, records: u32, body: &[u8]) -> Vec<u8> {
    frame_with(flags, seq, (w, h), records, body.len() as u32, body)
}

/// A decoder holding a 128x64 key frame (two tiles, colours 1 and 2).
pub fn primed() -> Decoder {
    let mut dec = Decoder::new();
    let mut body = vec![0, OP_SOLID];
    body.extend_from_slice(&1u32.to_le_bytes());
    body.extend_from_slice(&[0, OP_SOLID]);
    body.extend_from_slice(&2u32.to_le_bytes());
    dec.decode(&frame_bytes(FLAG_KEY, 0, 128, 64, 2, &body))
        .unwrap();
    dec
}

pub fn err(dec: &mut Decoder, bytes: &[u8]) -> DecodeError {
    let before = dec.frame().cloned();
    let e = dec.decode(bytes).unwrap_err();
    assert_eq!(
        dec.frame().cloned(),
        before,
        "rejected frame changed the picture"
    );
    e
}

/// A 128x64 key frame whose tile 0 is one rect record (`operand`: what
/// follows the op byte) and tile 1 solid colour 2.
pub fn key_with_rect(operand: &[u8]) -> Vec<u8> {
    let mut body = vec![0, lifeline_proto::screen::wire::OP_RECT];
    body.extend_from_slice(operand);
    body.extend_from_slice(&[0, OP_SOLID, 2, 0, 0, 0]);
    frame_bytes(FLAG_KEY, 0, 128, 64, 2, &body)
}
