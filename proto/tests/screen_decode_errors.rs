//! Every kind of bad input maps to its named decoder error, and a rejected
//! frame leaves the decoder's picture unchanged.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use lifeline_proto::screen::wire::{
    FLAG_BODY_STREAM, FLAG_BODY_ZSTD, FLAG_KEY, OP_CACHE, OP_COPY, OP_RAW, OP_RECT, OP_SOLID,
    OP_XOR, OP_ZSTD, RECT_DELTA, RECT_PALETTE, RECT_XOR,
};
use lifeline_proto::screen::{DecodeError, Decoder, Encoder, Frame, Limits};

mod common;

use common::{err, frame_bytes, frame_with, key_with_rect, primed};

#[test]
fn header_errors_are_named() {
    let mut dec = Decoder::new();
    let good = frame_bytes(FLAG_KEY, 0, 128, 64, 0, &[]);
    assert_eq!(
        err(&mut dec, &good[..3]),
        DecodeError::Truncated { what: "seq" }
    );
    // Only a key frame starts with the magic; a frame flagged key must.
    let mut bad = good.clone();
    bad[0] = FLAG_KEY;
    assert_eq!(err(&mut dec, &bad), DecodeError::BadMagic);
    let mut bad = good.clone();
    bad[2] = 0;
    assert_eq!(err(&mut dec, &bad), DecodeError::MagicOnDelta);
    // Anything else is a delta's flags: garbage has unknown bits.
    let mut bad = good.clone();
    bad[0] = b'X';
    assert_eq!(err(&mut dec, &bad), DecodeError::UnknownFlags(b'X'));
    let mut bad = good.clone();
    bad[1] = 99;
    assert_eq!(err(&mut dec, &bad), DecodeError::UnsupportedVersion(99));
    let mut bad = good.clone();
    bad[2] = 0x81;
    assert_eq!(err(&mut dec, &bad), DecodeError::UnknownFlags(0x81));
    // One self-contained zstd frame and the stream at once: refused.
    let both = FLAG_KEY | FLAG_BODY_ZSTD | FLAG_BODY_STREAM;
    assert_eq!(
        err(&mut dec, &frame_bytes(both, 0, 128, 64, 0, &[])),
        DecodeError::UnknownFlags(both)
    );
    assert_eq!(
        err(&mut dec, &frame_bytes(FLAG_KEY, 0, 0, 64, 0, &[])),
        DecodeError::BadSize {
            width: 0,
            height: 64
        }
    );
}

#[test]
fn delta_rules_are_enforced() {
    let mut fresh = Decoder::new();
    assert_eq!(
        err(&mut fresh, &frame_bytes(0, 1, 128, 64, 0, &[])),
        DecodeError::NoKeyFrame
    );
    let mut dec = primed();
    assert_eq!(
        err(&mut dec, &frame_bytes(0, 5, 128, 64, 0, &[])),
        DecodeError::SequenceGap { last: 0, got: 5 }
    );
    dec.decode(&frame_bytes(0, 1, 128, 64, 0, &[])).unwrap();
}

#[test]
fn oversized_frames_are_refused_before_allocation() {
    let mut dec = Decoder::with_limits(Limits {
        max_width: 256,
        max_height: 256,
        max_pixels: 65_536,
    });
    assert_eq!(
        err(
            &mut dec,
            &frame_bytes(FLAG_KEY, 0, 16_000, 16_000, 62_500, &[])
        ),
        DecodeError::TooLarge {
            width: 16_000,
            height: 16_000
        }
    );
    // A huge declared decompressed size is refused without decompressing.
    let bytes = frame_with(
        FLAG_KEY | FLAG_BODY_ZSTD,
        0,
        (64, 64),
        1,
        u32::MAX,
        &[1, 2, 3],
    );
    assert!(matches!(
        err(&mut dec, &bytes),
        DecodeError::BodyTooLarge { .. }
    ));
    // So is a body sent larger than any valid one compresses to, whatever
    // it declares (two 64x64 tiles: about 33 KB at most).
    let big = vec![0u8; 40_000];
    let bytes = frame_with(FLAG_KEY | FLAG_BODY_ZSTD, 0, (128, 64), 2, 10, &big);
    assert!(matches!(
        err(&mut Decoder::new(), &bytes),
        DecodeError::BodyTooLarge {
            declared: 40_000,
            ..
        }
    ));
}

#[test]
fn record_errors_are_named() {
    let mut dec = primed();
    assert_eq!(
        err(&mut dec, &frame_bytes(0, 1, 128, 64, 3, &[])),
        DecodeError::TooManyRecords {
            records: 3,
            tiles: 2
        }
    );
    assert_eq!(
        err(&mut dec, &frame_bytes(FLAG_KEY, 0, 128, 64, 1, &[])),
        DecodeError::IncompleteKeyFrame {
            records: 1,
            tiles: 2
        }
    );
    assert_eq!(
        err(
            &mut dec,
            &frame_bytes(0, 1, 128, 64, 1, &[2, OP_SOLID, 0, 0, 0, 0])
        ),
        DecodeError::TileOutOfRange { tile: 2, tiles: 2 }
    );
    assert_eq!(
        err(&mut dec, &frame_bytes(0, 1, 128, 64, 1, &[0, 42])),
        DecodeError::UnknownOp { op: 42, tile: 0 }
    );
    // Copy one tile right of tile 1: leaves the frame.
    assert_eq!(
        err(
            &mut dec,
            &frame_bytes(0, 1, 128, 64, 1, &[1, OP_COPY, 128, 1, 0])
        ),
        DecodeError::SourceOutOfBounds {
            tile: 1,
            dx: 64,
            dy: 0
        }
    );
    assert_eq!(
        err(&mut dec, &frame_bytes(0, 1, 128, 64, 1, &[0, OP_CACHE, 0])),
        DecodeError::BadCacheSlot {
            tile: 0,
            slot: 0,
            occupied: 0
        }
    );
    let key_xor = frame_bytes(FLAG_KEY, 0, 128, 64, 2, &[0, OP_XOR, 0, 0]);
    assert_eq!(
        err(&mut dec, &key_xor),
        DecodeError::NotInKeyFrame {
            op: OP_XOR,
            tile: 0
        }
    );
    assert_eq!(
        err(&mut dec, &frame_bytes(0, 1, 128, 64, 1, &[0, OP_RAW, 1, 2])),
        DecodeError::Truncated {
            what: "tile pixels"
        }
    );
    assert_eq!(
        err(
            &mut dec,
            &frame_bytes(0, 1, 128, 64, 1, &[0, OP_ZSTD, 0xff, 0xff, 0x03])
        ),
        DecodeError::BlobTooLarge {
            tile: 0,
            len: 65_535,
            max: 16_384 + 128 + 128
        }
    );
    assert_eq!(
        err(
            &mut dec,
            &frame_bytes(0, 1, 128, 64, 1, &[0, OP_ZSTD, 3, 1, 2, 3])
        ),
        DecodeError::BadZstd { what: "tile blob" }
    );
    assert_eq!(
        err(&mut dec, &frame_bytes(0, 1, 128, 64, 0, &[9])),
        DecodeError::TrailingBodyBytes(1)
    );
    // The body is the rest of the input: a byte after it makes the body
    // longer than declared.
    let mut trailing = frame_bytes(0, 1, 128, 64, 0, &[]);
    trailing.push(0);
    assert_eq!(
        err(&mut dec, &trailing),
        DecodeError::BodyLengthMismatch {
            declared: 0,
            actual: 1
        }
    );
}

#[test]
fn zstd_tile_that_inflates_past_the_tile_is_refused() {
    let mut dec = primed();
    // 20 KB of zeros is more than one 64x64 tile holds (16 KB).
    let blob = zstd::bulk::compress(&vec![0u8; 20_000], 1).unwrap();
    let mut body = vec![0, OP_ZSTD];
    body.push((blob.len() as u8) | 0x80);
    body.push((blob.len() >> 7) as u8);
    body.extend_from_slice(&blob);
    assert_eq!(
        err(&mut dec, &frame_bytes(0, 1, 128, 64, 1, &body)),
        DecodeError::BadZstd { what: "tile blob" }
    );
}

#[test]
fn key_frame_after_resize_and_cache_reuse_roundtrip() {
    let mut enc = Encoder::new();
    let mut dec = Decoder::new();
    let mut a = Frame::filled(256, 128, 0).unwrap();
    for (i, p) in a.pixels_mut().iter_mut().enumerate() {
        *p = (i as u32).wrapping_mul(2_654_435_761) >> 8;
    }
    let b = Frame::filled(256, 128, 5).unwrap();
    for f in [&a, &b, &a] {
        assert_eq!(dec.decode(&enc.encode(f)).unwrap(), f);
    }
    // Back to screen A: every tile comes from the cache.
    assert_eq!(enc.stats().cached, 8);
    assert!(enc.stats().bytes < 100, "{} bytes", enc.stats().bytes);
    let small = Frame::filled(100, 50, 9).unwrap();
    assert_eq!(dec.decode(&enc.encode(&small)).unwrap(), &small);
    assert!(enc.stats().key);
    enc.request_keyframe();
    assert_eq!(dec.decode(&enc.encode(&small)).unwrap(), &small);
    assert!(enc.stats().key);
}

/// A delta of one rect record on tile 0 of [`primed`]'s frame.
fn rect_frame(operand: &[u8]) -> Vec<u8> {
    let mut body = vec![0, OP_RECT];
    body.extend_from_slice(operand);
    frame_bytes(0, 1, 128, 64, 1, &body)
}

#[test]
fn rect_records_are_checked_and_applied() {
    let mut dec = primed();
    // 64x64 tile 0: a rect leaving the tile, an empty one, unknown coding.
    assert_eq!(
        err(
            &mut dec,
            &rect_frame(&[60, 0, 5, 1, RECT_PALETTE, 1, 0, 0, 0, 0])
        ),
        DecodeError::BadRect {
            tile: 0,
            x: 60,
            y: 0,
            w: 5,
            h: 1
        }
    );
    assert!(matches!(
        err(&mut dec, &rect_frame(&[0, 0, 0, 1, RECT_PALETTE])),
        DecodeError::BadRect { w: 0, .. }
    ));
    assert_eq!(
        err(&mut dec, &rect_frame(&[0, 0, 1, 1, 9])),
        DecodeError::UnknownRectCoding { tile: 0, coding: 9 }
    );
    assert_eq!(
        err(&mut dec, &rect_frame(&[0, 0, 1, 1, RECT_PALETTE, 17])),
        DecodeError::BadPalette {
            tile: 0,
            colours: 17
        }
    );
    // A 2x2 rect, three colours at two bits, indices column by column
    // (each column's two indices in one byte): index 3 names no colour.
    let mut three = vec![0, 0, 2, 2, RECT_PALETTE, 3];
    for c in [7u32, 8, 9] {
        three.extend_from_slice(&c.to_le_bytes());
    }
    assert_eq!(
        err(
            &mut dec,
            &rect_frame(&[&three[..], &[0b0001_0000, 0b1011_0000]].concat())
        ),
        DecodeError::BadPaletteIndex {
            tile: 0,
            index: 3,
            colours: 3
        }
    );
    assert_eq!(
        err(&mut dec, &rect_frame(&[&three[..], &[0]].concat())),
        DecodeError::Truncated {
            what: "palette indices"
        }
    );
    // XOR needs the previous picture: not in a key frame.
    assert_eq!(
        err(
            &mut dec,
            &key_with_rect(&[0, 0, 1, 1, RECT_XOR, 0, 0, 0, 0])
        ),
        DecodeError::NotInKeyFrame {
            op: OP_RECT,
            tile: 0
        }
    );
    // A valid one: the left column becomes 7 over 8, the right one 9 over
    // 7; the rest of the tile keeps colour 1.
    let frame = dec
        .decode(&rect_frame(
            &[&three[..], &[0b0001_0000, 0b1000_0000]].concat(),
        ))
        .unwrap()
        .clone();
    assert_eq!(&frame.row(0)[..4], &[7, 9, 1, 1]);
    assert_eq!(&frame.row(1)[..4], &[8, 7, 1, 1]);
    assert!(frame.row(2)[..64].iter().all(|&p| p == 1));
    assert!(frame.row(0)[64..].iter().all(|&p| p == 2));
    // Left-neighbour deltas on row 1: 0x0102_0305, then +1 in the lowest
    // byte, then -1 (wrapping) in the highest.
    let mut delta = vec![0, 1, 3, 1, RECT_DELTA];
    for d in [0x0102_0305u32, 0x0000_0001, 0xff00_0000] {
        delta.extend_from_slice(&d.to_le_bytes());
    }
    let mut seq2 = frame_bytes(0, 2, 128, 64, 1, &[&[0, OP_RECT][..], &delta].concat());
    let frame = dec.decode(&seq2).unwrap().clone();
    assert_eq!(
        &frame.row(1)[..4],
        &[0x0102_0305, 0x0102_0306, 0x0002_0306, 1]
    );
    // Cut short: refused.
    seq2 = frame_bytes(0, 3, 128, 64, 1, &[&[0, OP_RECT][..], &delta[..9]].concat());
    assert_eq!(
        err(&mut dec, &seq2),
        DecodeError::Truncated {
            what: "rect pixels"
        }
    );
}

#[test]
fn a_broken_stream_is_refused_until_the_next_key_frame() {
    let (mut enc, mut dec, mut f) = started(256, 128, 0x00ff_ffff);
    // Small changes go into the session's stream.
    f.pixels_mut()[3] = 0;
    let good = enc.encode(&f);
    assert!(enc.stats().batched, "{:?}", enc.stats());
    assert_eq!(good[0], FLAG_BODY_STREAM, "a delta starts with its flags");
    // The chunk cut short: the stream cannot produce the declared body.
    let (seq, fields, body) = split_delta(&good);
    let cut = frame_with(
        FLAG_BODY_STREAM,
        seq,
        (0, 0),
        fields[0],
        fields[1],
        &body[..body.len() - 1],
    );
    let e = err(&mut dec, &cut);
    assert!(
        matches!(
            e,
            DecodeError::BadZstd { .. } | DecodeError::BodyLengthMismatch { .. }
        ),
        "{e}"
    );
    // The stream moved on without the rejected frame: no delta decodes,
    // not even one that follows the last frame applied (seq 1 after the
    // key frame's 0) and needs nothing from the stream.
    f.pixels_mut()[5] = 0;
    assert_eq!(err(&mut dec, &enc.encode(&f)), DecodeError::StreamBroken);
    assert_eq!(
        err(&mut dec, &frame_bytes(0, 1, 256, 128, 0, &[])),
        DecodeError::StreamBroken
    );
    // The viewer asks for a key frame; both streams restart with it.
    enc.request_keyframe();
    assert_eq!(dec.decode(&enc.encode(&f)).unwrap(), &f);
    f.pixels_mut()[7] = 0;
    assert_eq!(dec.decode(&enc.encode(&f)).unwrap(), &f);
    assert!(enc.stats().batched);
}

#[test]
fn a_streamed_body_longer_than_declared_is_refused() {
    let (mut enc, mut dec, mut f) = started(128, 64, 1);
    f.pixels_mut()[0] = 2;
    let good = enc.encode(&f);
    // Re-write the header with the raw length one byte short.
    let (seq, fields, body) = split_delta(&good);
    let short = frame_with(
        FLAG_BODY_STREAM,
        seq,
        (0, 0),
        fields[0],
        fields[1] - 1,
        &body,
    );
    assert!(matches!(
        err(&mut dec, &short),
        DecodeError::BodyLengthMismatch { .. }
    ));
}

/// An encoder and a decoder past the key frame of a `w` x `h` screen of
/// `colour`, and that screen.
fn started(w: u32, h: u32, colour: u32) -> (Encoder, Decoder, Frame) {
    let mut enc = Encoder::new();
    let mut dec = Decoder::new();
    let f = Frame::filled(w, h, colour).unwrap();
    dec.decode(&enc.encode(&f)).unwrap();
    (enc, dec, f)
}

/// A delta frame's seq, header varints (records, raw length) and body.
fn split_delta(frame: &[u8]) -> (u8, Vec<u32>, Vec<u8>) {
    let mut r = frame[2..].iter();
    let mut fields = Vec::new();
    for _ in 0..2 {
        let mut v = 0u32;
        let mut shift = 0;
        for &b in r.by_ref() {
            v |= u32::from(b & 0x7f) << shift;
            shift += 7;
            if b & 0x80 == 0 {
                break;
            }
        }
        fields.push(v);
    }
    (frame[1], fields, r.copied().collect())
}

#[test]
fn frame_numbers_wrap_after_255_and_still_catch_a_gap() {
    let (mut enc, mut dec, mut f) = started(128, 64, 0);
    for i in 1..=300u32 {
        f.pixels_mut()[(i % 64) as usize] = i;
        let bytes = enc.encode(&f);
        // A delta's second byte is its number modulo 256.
        assert_eq!(bytes[1], i as u8);
        assert_eq!(dec.decode(&bytes).unwrap(), &f, "frame {i}");
    }
    // Frame 302 where 301 is due.
    f.pixels_mut()[0] = 7;
    let skipped = enc.encode(&f);
    f.pixels_mut()[0] = 8;
    assert_eq!(
        err(&mut dec, &enc.encode(&f)),
        DecodeError::SequenceGap {
            last: 300 % 256,
            got: 302 % 256
        }
    );
    assert_eq!(dec.decode(&skipped).unwrap().pixels()[0], 7);
}
