//! The records for moving content, checked and applied: PARTS (a copied
//! rectangle and the bands around it), predicted rects, COARSE tiles and
//! pixels sent as planes.

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use common::{err, frame_bytes, key_with_rect, primed};
use lifeline_proto::screen::DecodeError;
use lifeline_proto::screen::wire::{
    FLAG_KEY, MAX_PARTS, OP_CACHE, OP_COARSE, OP_PARTS, OP_PLANES_ZSTD, OP_RECT, OP_SOLID,
    OP_XOR_PLANES_ZSTD, RECT_COPY, RECT_MED, RECT_PALETTE, RECT_PLANE,
};

/// A 2x2 predicted rect at (10, 10) of its tile: residuals 5, 1 / 2, 1.
fn predicted_2x2(coding: u8) -> Vec<u8> {
    let mut rect = vec![10, 10, 2, 2, coding];
    for r in [5u32, 1, 2, 1] {
        rect.extend_from_slice(&r.to_le_bytes());
    }
    rect
}

#[test]
fn parts_records_copy_moved_rects_and_predict_the_rest() {
    let mut dec = primed();
    // Tile 0 (colour 1): its top-left 8x4 copied from tile 1 (colour 2),
    // then a plane-predicted 2x2 at (10, 10): 5, 6 / 7, then 6 + 7 - 5 + 1.
    let copy = [0, 0, 8, 4, RECT_COPY, 128, 1, 0];
    let body = [&[0, OP_PARTS, 2][..], &copy, &predicted_2x2(RECT_PLANE)].concat();
    let frame = dec
        .decode(&frame_bytes(0, 1, 128, 64, 1, &body))
        .unwrap()
        .clone();
    assert!(frame.row(3)[..8].iter().all(|&p| p == 2));
    assert_eq!(&frame.row(3)[8..10], &[1, 1]);
    assert!(frame.row(4)[..8].iter().all(|&p| p == 1));
    assert_eq!(&frame.row(10)[9..13], &[1, 5, 6, 1]);
    assert_eq!(&frame.row(11)[9..13], &[1, 7, 9, 1]);
    // MED on the same residuals: left 7 and above 6 with above-left 5
    // below both predict the larger, 7, so the last pixel is 8.
    let body = [&[0, OP_RECT][..], &predicted_2x2(RECT_MED)].concat();
    let frame = dec
        .decode(&frame_bytes(0, 2, 128, 64, 1, &body))
        .unwrap()
        .clone();
    assert_eq!(&frame.row(11)[10..12], &[7, 8]);
    // A copy reads the previous frame, not what this frame wrote before
    // it: tile 0's pixel (0, 0) turns 9 and tile 1's first pixel copies
    // the old value, 2.
    let mut body = vec![0, OP_RECT, 0, 0, 1, 1, RECT_PALETTE, 1];
    body.extend_from_slice(&9u32.to_le_bytes());
    body.extend_from_slice(&[0, OP_RECT, 0, 0, 1, 1, RECT_COPY, 127, 0]);
    let frame = dec
        .decode(&frame_bytes(0, 3, 128, 64, 2, &body))
        .unwrap()
        .clone();
    assert_eq!((frame.row(0)[0], frame.row(0)[64]), (9, 2));

    // Bad part counts, a copy from outside the frame or in a key frame,
    // a parts record cut short.
    for parts in [0, MAX_PARTS + 1] {
        assert_eq!(
            err(
                &mut dec,
                &frame_bytes(0, 4, 128, 64, 1, &[0, OP_PARTS, parts])
            ),
            DecodeError::BadParts {
                tile: 0,
                parts,
                max: MAX_PARTS
            }
        );
    }
    let outside = [0, OP_RECT, 60, 0, 4, 1, RECT_COPY, 130, 1, 0];
    assert_eq!(
        err(&mut dec, &frame_bytes(0, 4, 128, 64, 1, &outside)),
        DecodeError::SourceOutOfBounds {
            tile: 0,
            dx: 65,
            dy: 0
        }
    );
    assert_eq!(
        err(
            &mut dec,
            &key_with_rect(&[0, 0, 1, 1, RECT_COPY, 128, 1, 0])
        ),
        DecodeError::NotInKeyFrame {
            op: OP_RECT,
            tile: 0
        }
    );
    let cut = [&[0, OP_PARTS, 2][..], &copy].concat();
    assert_eq!(
        err(&mut dec, &frame_bytes(0, 4, 128, 64, 1, &cut)),
        DecodeError::Truncated { what: "rect" }
    );
    let short = [&[0, OP_RECT][..], &predicted_2x2(RECT_PLANE)[..12]].concat();
    assert_eq!(
        err(&mut dec, &frame_bytes(0, 4, 128, 64, 1, &short)),
        DecodeError::Truncated {
            what: "rect pixels"
        }
    );
}

#[test]
fn coarse_tiles_are_checked_and_expanded() {
    let mut dec = primed();
    // Tile 1 (64x64): brightness of 32x32 half pixels, then Co and Cg of
    // 16x16 quarter blocks, each plane left deltas of six-bit values.
    // Brightness 40 (40 << 2 | 40 >> 4 = 162), Co 42 (4 * 42 - 128 = 40),
    // Cg 32 (0): red 162 + 40, green 162, blue 162 - 40.
    let (n, m) = (32 * 32, 16 * 16);
    let mut planes = vec![0u8; n + 2 * m];
    planes[0] = 40;
    planes[n] = 42;
    planes[n + m] = 32;
    let mut body = vec![1, OP_COARSE];
    body.extend_from_slice(&[0x80, 0x0C]); // varint 1536
    body.extend_from_slice(&planes);
    let frame = dec
        .decode(&frame_bytes(0, 1, 128, 64, 1, &body))
        .unwrap()
        .clone();
    assert!(
        frame.row(63)[64..]
            .iter()
            .all(|&p| p == 202 << 16 | 162 << 8 | 122)
    );
    assert!(frame.row(0)[..64].iter().all(|&p| p == 1));
    // The same planes as a zstd frame.
    let packed = zstd::bulk::compress(&planes, 1).unwrap();
    let mut body = vec![1, OP_COARSE];
    body.push(packed.len() as u8);
    body.extend_from_slice(&packed);
    assert!(packed.len() < 128);
    dec.decode(&frame_bytes(0, 2, 128, 64, 1, &body)).unwrap();
    // Longer than the planes, a broken zstd frame, in a key frame.
    assert_eq!(
        err(
            &mut dec,
            &frame_bytes(0, 3, 128, 64, 1, &[1, OP_COARSE, 0x81, 0x0C])
        ),
        DecodeError::BlobTooLarge {
            tile: 1,
            len: 1537,
            max: 1536
        }
    );
    assert_eq!(
        err(
            &mut dec,
            &frame_bytes(0, 3, 128, 64, 1, &[1, OP_COARSE, 2, 1, 2])
        ),
        DecodeError::BadZstd { what: "tile blob" }
    );
    let key = [0, OP_SOLID, 1, 0, 0, 0, 0, OP_COARSE, 0];
    assert_eq!(
        err(&mut dec, &frame_bytes(FLAG_KEY, 0, 128, 64, 2, &key)),
        DecodeError::NotInKeyFrame {
            op: OP_COARSE,
            tile: 1
        }
    );
    // The picture is approximate until a record rewrites all of tile 1: a
    // one-pixel rect leaves it coarse, a whole-tile rect makes it exact.
    assert!(!dec.exact());
    let mut pixel = vec![1, OP_RECT, 0, 0, 1, 1, RECT_PALETTE, 1];
    pixel.extend_from_slice(&5u32.to_le_bytes());
    dec.decode(&frame_bytes(0, 3, 128, 64, 1, &pixel)).unwrap();
    assert!(!dec.exact());
    let mut whole = vec![1, OP_RECT, 0, 0, 64, 64, RECT_PALETTE, 1];
    whole.extend_from_slice(&5u32.to_le_bytes());
    dec.decode(&frame_bytes(0, 4, 128, 64, 1, &whole)).unwrap();
    assert!(dec.exact());
}

/// `pixels` as four planes, blue and red coded against green as `coding`
/// says (0 plain, 1 XOR, 2 minus), zstd-compressed: the coding byte, then
/// the blob behind a varint length.
fn coded_planes(pixels: &[u32], coding: u8) -> Vec<u8> {
    let mut planes: Vec<Vec<u8>> = (0..4)
        .map(|k| pixels.iter().map(|p| p.to_le_bytes()[k]).collect())
        .collect();
    for k in [0, 2] {
        for (i, g) in pixels.iter().map(|p| p.to_le_bytes()[1]).enumerate() {
            let b = &mut planes[k][i];
            *b = match coding {
                1 => *b ^ g,
                2 => b.wrapping_sub(g),
                _ => *b,
            };
        }
    }
    let blob = zstd::bulk::compress(&planes.concat(), 1).unwrap();
    let mut out = vec![coding];
    common::varint(&mut out, blob.len() as u32);
    out.extend_from_slice(&blob);
    out
}

/// `pixels` as plain planes (see [`coded_planes`]).
fn packed_planes(pixels: &[u32]) -> Vec<u8> {
    coded_planes(pixels, 0)
}

#[test]
fn planes_coded_against_green_come_back_exact() {
    // Grey grain on colours: the same in every channel, XORed or added.
    let pixels: Vec<u32> = (0..40u32)
        .map(|i| {
            let n = i.wrapping_mul(2_654_435_761) >> 28;
            (0x0050_a0f0 + n * 0x0001_0101) ^ (i << 3)
        })
        .collect();
    let mut dec = lifeline_proto::screen::Decoder::new();
    for (seq, coding) in [1u8, 2].into_iter().enumerate() {
        let body = [&[0, OP_PLANES_ZSTD][..], &coded_planes(&pixels, coding)].concat();
        let frame = dec
            .decode(&frame_bytes(FLAG_KEY, seq as u8, 8, 5, 1, &body))
            .unwrap();
        assert_eq!(frame.pixels(), pixels.as_slice(), "coding {coding}");
    }
    // XOR planes: the coding applies to the XOR bytes; the decoder undoes
    // it, then XORs with the previous frame's block.
    let xor: Vec<u32> = (0..40u32)
        .map(|i| (((i * 37) & 0x0F) * 0x0001_0101) ^ (i << 19))
        .collect();
    let mut want = pixels.clone();
    for (seq, coding) in [(2u8, 1u8), (3, 2)] {
        let body = [
            &[0, OP_XOR_PLANES_ZSTD, 0, 0][..],
            &coded_planes(&xor, coding),
        ]
        .concat();
        let frame = dec.decode(&frame_bytes(0, seq, 8, 5, 1, &body)).unwrap();
        want = want.iter().zip(&xor).map(|(p, x)| p ^ x).collect();
        assert_eq!(
            frame.pixels(),
            want.as_slice(),
            "XOR planes, coding {coding}"
        );
    }
    // Read as plain, XOR-coded planes give other pixels: the byte counts.
    let mut body = [&[0, OP_PLANES_ZSTD][..], &coded_planes(&pixels, 1)].concat();
    body[2] = 0;
    let frame = dec
        .decode(&frame_bytes(FLAG_KEY, 0, 8, 5, 1, &body))
        .unwrap();
    assert_ne!(frame.pixels(), pixels.as_slice());
    // An undefined coding is refused, in plain and XOR planes alike.
    body[2] = 3;
    assert_eq!(
        err(&mut dec, &frame_bytes(FLAG_KEY, 0, 8, 5, 1, &body)),
        DecodeError::BadPlaneCoding { tile: 0, coding: 3 }
    );
    let mut xor = [
        &[0, OP_XOR_PLANES_ZSTD, 0, 0][..],
        &coded_planes(&pixels, 2),
    ]
    .concat();
    xor[4] = 200;
    assert_eq!(
        err(&mut dec, &frame_bytes(0, 1, 8, 5, 1, &xor)),
        DecodeError::BadPlaneCoding {
            tile: 0,
            coding: 200
        }
    );
}

#[test]
fn plane_records_put_each_byte_of_a_pixel_in_its_plane() {
    // A 3x2 key frame, one partial tile: planes of first bytes, then second,
    // third and fourth.
    let pixels = [
        0x0403_0201,
        0x0807_0605,
        0x0c0b_0a09,
        0x100f_0e0d,
        0x1413_1211,
        0x00ff_8000,
    ];
    let mut dec = lifeline_proto::screen::Decoder::new();
    let body = [&[0, OP_PLANES_ZSTD][..], &packed_planes(&pixels)].concat();
    let frame = dec
        .decode(&frame_bytes(FLAG_KEY, 0, 3, 2, 1, &body))
        .unwrap();
    assert_eq!(frame.pixels(), &pixels);
    // XOR planes against the same place (the offset is zigzag 0, 0), each
    // pixel's bytes different, so a plane misread as pixels shows.
    let xor = [
        0x8040_2010u32,
        0x0102_0408,
        0x1100_2200,
        0x00ff_0001,
        0x7f00_0080,
        0x0a0b_0c0d,
    ];
    let body = [&[0, OP_XOR_PLANES_ZSTD, 0, 0][..], &packed_planes(&xor)].concat();
    let frame = dec.decode(&frame_bytes(0, 1, 3, 2, 1, &body)).unwrap();
    let want: Vec<u32> = pixels.iter().zip(&xor).map(|(p, x)| p ^ x).collect();
    assert_eq!(frame.pixels(), want.as_slice());
    // Planes of the wrong size, XOR planes in a key frame.
    let body = [&[0, OP_PLANES_ZSTD][..], &packed_planes(&pixels[..5])].concat();
    assert_eq!(
        err(&mut dec, &frame_bytes(0, 2, 3, 2, 1, &body)),
        DecodeError::TileSizeMismatch {
            tile: 0,
            got: 20,
            want: 24
        }
    );
    let body = [&[0, OP_XOR_PLANES_ZSTD, 0, 0][..], &packed_planes(&xor)].concat();
    assert_eq!(
        err(&mut dec, &frame_bytes(FLAG_KEY, 0, 3, 2, 1, &body)),
        DecodeError::NotInKeyFrame {
            op: OP_XOR_PLANES_ZSTD,
            tile: 0
        }
    );
}

#[test]
fn a_full_tile_sent_as_planes_is_cached() {
    // Tile 0 as planes, tile 1 the cache slot it filled.
    let pixels: Vec<u32> = (0..64 * 64u32)
        .map(|i| i.wrapping_mul(2_654_435_761))
        .collect();
    let body = [
        &[0, OP_PLANES_ZSTD][..],
        &packed_planes(&pixels),
        &[0, OP_CACHE, 0],
    ]
    .concat();
    let mut dec = lifeline_proto::screen::Decoder::new();
    let frame = dec
        .decode(&frame_bytes(FLAG_KEY, 0, 128, 64, 2, &body))
        .unwrap();
    for y in 0..64 {
        let row = frame.row(y);
        assert_eq!(&row[..64], &pixels[y as usize * 64..][..64]);
        assert_eq!(&row[64..], &row[..64]);
    }
}
