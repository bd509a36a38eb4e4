//! Every kind of bad input maps to its named decoder error, and a rejected
//! frame leaves the decoder's picture unchanged.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use lifeline_proto::screen::wire::{
    FLAG_BODY_ZSTD, FLAG_KEY, HEADER_LEN, MAGIC, OP_CACHE, OP_COPY, OP_RAW, OP_SOLID, OP_XOR,
    OP_ZSTD, VERSION,
};
use lifeline_proto::screen::{DecodeError, Decoder, Encoder, Frame, Limits};

/// A hand-built frame: header fields and a plain body.
fn frame_bytes(flags: u8, seq: u32, w: u16, h: u16, records: u32, body: &[u8]) -> Vec<u8> {
    let mut out = MAGIC.to_vec();
    out.push(VERSION);
    out.push(flags);
    out.extend_from_slice(&seq.to_le_bytes());
    out.extend_from_slice(&w.to_le_bytes());
    out.extend_from_slice(&h.to_le_bytes());
    out.extend_from_slice(&records.to_le_bytes());
    out.extend_from_slice(&(body.len() as u32).to_le_bytes());
    out.extend_from_slice(&(body.len() as u32).to_le_bytes());
    out.extend_from_slice(body);
    assert_eq!(out.len(), HEADER_LEN + body.len());
    out
}

/// A decoder holding a 128x64 key frame (two tiles, colours 1 and 2).
fn primed() -> Decoder {
    let mut dec = Decoder::new();
    let mut body = vec![0, OP_SOLID];
    body.extend_from_slice(&1u32.to_le_bytes());
    body.extend_from_slice(&[0, OP_SOLID]);
    body.extend_from_slice(&2u32.to_le_bytes());
    dec.decode(&frame_bytes(FLAG_KEY, 0, 128, 64, 2, &body))
        .unwrap();
    dec
}

fn err(dec: &mut Decoder, bytes: &[u8]) -> DecodeError {
    let before = dec.frame().cloned();
    let e = dec.decode(bytes).unwrap_err();
    assert_eq!(
        dec.frame().cloned(),
        before,
        "rejected frame changed the picture"
    );
    e
}

#[test]
fn header_errors_are_named() {
    let mut dec = Decoder::new();
    let good = frame_bytes(0, 1, 128, 64, 0, &[]);
    assert_eq!(
        err(&mut dec, &good[..8]),
        DecodeError::Truncated { what: "seq" }
    );
    let mut bad = good.clone();
    bad[0] = b'X';
    assert_eq!(err(&mut dec, &bad), DecodeError::BadMagic);
    let mut bad = good.clone();
    bad[4] = 99;
    assert_eq!(err(&mut dec, &bad), DecodeError::UnsupportedVersion(99));
    let mut bad = good.clone();
    bad[5] = 0x80;
    assert_eq!(err(&mut dec, &bad), DecodeError::UnknownFlags(0x80));
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
    assert!(matches!(
        err(&mut dec, &frame_bytes(0, 1, 64, 64, 0, &[])),
        DecodeError::SizeChanged {
            width: 64,
            height: 64,
            have_width: 128,
            have_height: 64
        }
    ));
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
    let mut bytes = frame_bytes(FLAG_KEY | FLAG_BODY_ZSTD, 0, 64, 64, 1, &[1, 2, 3]);
    bytes[22..26].copy_from_slice(&u32::MAX.to_le_bytes());
    assert!(matches!(
        err(&mut dec, &bytes),
        DecodeError::BodyTooLarge { .. }
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
    let mut trailing = frame_bytes(0, 1, 128, 64, 0, &[]);
    trailing.push(0);
    assert_eq!(err(&mut dec, &trailing), DecodeError::TrailingBytes(1));
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
