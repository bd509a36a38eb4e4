//! Grain that changes every channel alike (video noise, photo shading)
//! costs one plane, not three: the encoder codes blue and red against
//! green, and the picture still comes back bit for bit.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use lifeline_proto::screen::synth::{Synth, Workload, XorShift};
use lifeline_proto::screen::{Decoder, Encoder, Frame};

#[test]
fn exact_video_frames_send_grain_once() {
    // The synthetic video: moving colour bands with grey grain flipping the
    // low bits of every channel alike. Three planes of grain were about
    // 3.5 MB a 1080p frame; one is about 1.4 MB.
    let mut synth = Synth::full_hd(Workload::Video, 4);
    let mut enc = Encoder::new();
    let mut dec = Decoder::new();
    let key = enc.encode(synth.frame());
    assert!(key.len() < 1_700_000, "key frame of {} bytes", key.len());
    dec.decode(&key).unwrap();
    for i in 0..4 {
        let cur = synth.next_frame().clone();
        let bytes = enc.encode(&cur);
        let s = enc.stats();
        assert!(bytes.len() < 1_700_000, "frame {i}: {} bytes", bytes.len());
        // Every tile as planes, nearly all coded against green (a tile
        // whose bands happen to cancel the grain's advantage may not be).
        assert_eq!(s.planes, s.dirty, "frame {i}: {s:?}");
        assert!(s.green * 50 >= s.planes * 49, "frame {i}: {s:?}");
        assert!(dec.decode(&bytes).unwrap() == &cur, "frame {i} differs");
    }
}

/// A 1080p photo-like frame: soft colour gradients plus grain of up to
/// `grain` levels, added to every channel alike (`grey`) or drawn for
/// each channel on its own.
fn grainy(seed: u64, grain: u32, grey: bool) -> Frame {
    let (w, h) = (1920u32, 1080u32);
    let mut rng = XorShift::new(seed);
    let px = (0..w * h)
        .map(|i| {
            let (x, y) = (i % w, i / w);
            let base = [
                40 + x * 120 / w,
                50 + y * 100 / h,
                90 + (x + y) * 60 / (w + h),
            ];
            let bits = rng.next_u64();
            let n = |k: u32| (bits >> (if grey { 0 } else { 8 * k })) as u32 % grain;
            let [b, g, r] = [0, 1, 2].map(|k| base[k as usize] + n(k));
            r << 16 | g << 8 | b
        })
        .collect();
    Frame::from_pixels(w, h, px).unwrap()
}

#[test]
fn grey_grain_on_a_photo_costs_about_one_channel() {
    let mut sizes = Vec::new();
    for grey in [true, false] {
        let frame = grainy(9, 32, grey);
        let mut enc = Encoder::new();
        let bytes = enc.encode(&frame);
        let s = enc.stats();
        let mut dec = Decoder::new();
        assert!(dec.decode(&bytes).unwrap() == &frame, "grey {grey}");
        if grey {
            assert!(s.planes > 400 && s.green * 50 >= s.planes * 49, "{s:?}");
        }
        sizes.push(bytes.len());
    }
    // Grain common to the channels costs well under half of grain drawn
    // for each channel on its own (which nothing can take out).
    assert!(
        sizes[0] * 2 < sizes[1],
        "grey {} vs coloured {}",
        sizes[0],
        sizes[1]
    );
}
