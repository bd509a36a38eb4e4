//! Encoding with a hint of where the screen changed (what the X server
//! reported drawn): only those tiles are compared, the result is still
//! exact, and the caller's frame stays the caller's.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use lifeline_proto::screen::synth::{Synth, Workload};
use lifeline_proto::screen::{Decoder, Encoder, Frame, Grid, Rect};

/// The bounding box of the pixels that differ, if any.
fn changed_box(a: &Frame, b: &Frame) -> Option<Rect> {
    let w = a.width();
    let (mut x0, mut y0, mut x1, mut y1) = (u32::MAX, u32::MAX, 0, 0);
    for (i, (p, q)) in a.pixels().iter().zip(b.pixels()).enumerate() {
        if p != q {
            let (x, y) = (i as u32 % w, i as u32 / w);
            (x0, y0, x1, y1) = (x0.min(x), y0.min(y), x1.max(x + 1), y1.max(y + 1));
        }
    }
    (x0 < x1).then(|| Rect {
        x: x0,
        y: y0,
        w: x1 - x0,
        h: y1 - y0,
    })
}

#[test]
fn hinted_typing_and_dragging_decode_exactly() {
    for workload in [Workload::Typing, Workload::WindowDrag, Workload::Scrolling] {
        let mut synth = Synth::new(workload, 640, 360, 3).unwrap();
        let mut enc = Encoder::new();
        let mut dec = Decoder::new();
        let mut screen = synth.frame().clone();
        let key = enc
            .encode_hinted(&screen, Some(&[]))
            .expect("the first frame is a key");
        assert!(dec.decode(&key).unwrap() == &screen);
        for i in 0..40 {
            let next = synth.next_frame().clone();
            let hint: Vec<Rect> = changed_box(&screen, &next).into_iter().collect();
            screen = next;
            match enc.encode_hinted(&screen, Some(&hint)) {
                Some(bytes) => {
                    let shown = dec.decode(&bytes).unwrap();
                    assert!(shown == &screen, "{workload:?} frame {i} differs");
                }
                None => assert!(hint.is_empty(), "{workload:?} frame {i}: change not sent"),
            }
        }
    }
}

#[test]
fn a_change_outside_the_hint_waits_for_a_whole_comparison() {
    let mut enc = Encoder::new();
    let mut dec = Decoder::new();
    let mut screen = Frame::filled(256, 128, 0x0020_2020).unwrap();
    dec.decode(&enc.encode_hinted(&screen, None).unwrap())
        .unwrap();
    // Drawn at (200, 100), reported at (10, 10): only the reported tile
    // is compared, and it did not change.
    screen.pixels_mut()[100 * 256 + 200] = 0x00FF_0000;
    let elsewhere = Rect {
        x: 10,
        y: 10,
        w: 5,
        h: 5,
    };
    assert_eq!(enc.encode_hinted(&screen, Some(&[elsewhere])), None);
    // The caller's frame is untouched, and a whole comparison sends it.
    assert_eq!(screen.get(200, 100), Some(0x00FF_0000));
    let bytes = enc
        .encode_hinted(&screen, None)
        .expect("the change is sent");
    assert_eq!(enc.stats().dirty, 1);
    assert!(dec.decode(&bytes).unwrap() == &screen);
    // Reported where it was drawn: sent at once, alone.
    screen.pixels_mut()[5 * 256 + 70] = 0x0000_FF00;
    let here = Rect {
        x: 70,
        y: 5,
        w: 1,
        h: 1,
    };
    let bytes = enc.encode_hinted(&screen, Some(&[here])).unwrap();
    assert_eq!(enc.stats().dirty, 1);
    assert!(dec.decode(&bytes).unwrap() == &screen);
}

#[test]
fn a_hint_touches_every_tile_it_crosses_and_nothing_outside_the_frame() {
    let grid = Grid::new(200, 100); // 4 x 2 tiles, the last column and row partial
    let touched = |r: Rect| -> Vec<usize> {
        let m = grid.touched(&[r]);
        (0..m.len()).filter(|&t| m[t]).collect()
    };
    let r = |x, y, w, h| Rect { x, y, w, h };
    assert_eq!(touched(r(63, 63, 2, 2)), vec![0, 1, 4, 5]);
    assert_eq!(touched(r(64, 0, 64, 64)), vec![1]);
    assert_eq!(touched(r(190, 90, 500, 500)), vec![6, 7]);
    assert_eq!(touched(r(300, 0, 5, 5)), Vec::<usize>::new());
    assert_eq!(touched(r(5, 5, 0, 9)), Vec::<usize>::new());
}
