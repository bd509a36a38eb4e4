//! The plane layout of a tile's pixel bytes, and how its blue and red
//! planes are coded against the green one.
//!
//! Pixels are `0x00RRGGBB`, so the little-endian planes are blue, green,
//! red and the spare byte. Where brightness changes every channel alike
//! (grain and noise in video, shading in photos), blue and red carry the
//! same change as green; coding them against green leaves only what
//! differs. Two ways: XOR (exact for changes that flip the same bits in
//! every channel) and wrapping subtraction (for changes that add the same
//! amount). The encoder takes whichever leaves the fewest bits by a
//! byte-frequency estimate, or neither.

/// How the blue and red planes of a planar tile are coded.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Green {
    /// As they are.
    Plain = 0,
    /// Each byte XOR the pixel's green byte.
    Xor = 1,
    /// Each byte minus the pixel's green byte, wrapping.
    Minus = 2,
}

impl Green {
    /// The coding a wire byte names, if any.
    pub(crate) fn from_wire(b: u8) -> Option<Self> {
        match b {
            0 => Some(Self::Plain),
            1 => Some(Self::Xor),
            2 => Some(Self::Minus),
            _ => None,
        }
    }
}

/// One pixel in this many feeds the estimate, with its blue and red bytes
/// (a tile's grain is the same everywhere in it; a 64×64 tile gives 586
/// pixels). Odd, so that the samples move along the columns from row to
/// row instead of hitting the same column of every 8-pixel cell (glyph
/// cells, blocks of a decoded video).
const SAMPLE_STEP: usize = 7;

/// A coding against green is taken only when its estimate is below this
/// many parts in 1,024 of the plain planes' (a near tie is not worth the
/// decoder's extra pass).
const TAKE_BELOW: f32 = 990.0;

/// Writes `values` into `out` as four planes, blue and red coded against
/// green the cheapest way; returns that way.
pub(crate) fn write_planes(values: &[u32], out: &mut Vec<u8>) -> Green {
    let green = choose(values);
    let n = values.len();
    out.clear();
    out.resize(n * 4, 0);
    let (p0, rest) = out.split_at_mut(n);
    let (p1, rest) = rest.split_at_mut(n);
    let (p2, p3) = rest.split_at_mut(n);
    let planes = [p0, p1, p2, p3];
    match green {
        Green::Plain => split(values, planes, |b, _| b),
        Green::Xor => split(values, planes, |b, g| b ^ g),
        Green::Minus => split(values, planes, u8::wrapping_sub),
    }
    green
}

/// One pass over `values` into the four planes, blue and red through
/// `code(byte, green)` (a loop per coding, so each one is straight-line).
#[inline(always)]
fn split(values: &[u32], [p0, p1, p2, p3]: [&mut [u8]; 4], code: impl Fn(u8, u8) -> u8) {
    let planes = p0.iter_mut().zip(p1).zip(p2).zip(p3);
    for (v, (((b, g), r), x)) in values.iter().zip(planes) {
        let [vb, vg, vr, vx] = v.to_le_bytes();
        (*b, *g, *r, *x) = (code(vb, vg), vg, code(vr, vg), vx);
    }
}

/// Appends the pixels held in `planes` (four planes of equal length,
/// written with `green`) to `out`: the one reading of the plane layout,
/// for the decoder and for the encoder's inline fallback. A length not a
/// multiple of four leaves the spare bytes out.
pub(crate) fn read_planes(planes: &[u8], green: Green, out: &mut Vec<u32>) {
    let n = planes.len() / 4;
    let (b0, rest) = planes.split_at(n);
    let (b1, rest) = rest.split_at(n);
    let (b2, rest) = rest.split_at(n);
    let b3 = &rest[..n];
    let quads = b0.iter().zip(b1).zip(b2).zip(b3);
    out.reserve(n);
    match green {
        Green::Plain => {
            out.extend(quads.map(|(((&b, &g), &r), &x)| u32::from_le_bytes([b, g, r, x])))
        }
        Green::Xor => {
            out.extend(quads.map(|(((&b, &g), &r), &x)| u32::from_le_bytes([b ^ g, g, r ^ g, x])));
        }
        Green::Minus => out.extend(quads.map(|(((&b, &g), &r), &x)| {
            u32::from_le_bytes([b.wrapping_add(g), g, r.wrapping_add(g), x])
        })),
    }
}

/// The coding of blue and red whose bytes look cheapest: XOR or minus,
/// whichever has the lower order-0 entropy over the sampled blue and red
/// bytes together (what zstd's literal coder pays for planes, where
/// matches are rare), if that is below [`TAKE_BELOW`]/1024 of the plain
/// bytes'; else plain.
fn choose(values: &[u32]) -> Green {
    let mut hist = [[0u32; 256]; 3];
    let mut samples = 0u32;
    for v in values.iter().step_by(SAMPLE_STEP) {
        let [b, g, r, _] = v.to_le_bytes();
        hist[0][usize::from(b)] += 1;
        hist[0][usize::from(r)] += 1;
        hist[1][usize::from(b ^ g)] += 1;
        hist[1][usize::from(r ^ g)] += 1;
        hist[2][usize::from(b.wrapping_sub(g))] += 1;
        hist[2][usize::from(r.wrapping_sub(g))] += 1;
        samples += 2;
    }
    if samples == 0 {
        return Green::Plain;
    }
    // Bits to code the samples: n·log2 n − Σ c·log2 c.
    let total = samples as f32 * (samples as f32).log2();
    let bits = |h: &[u32; 256]| {
        total
            - h.iter()
                .filter(|&&c| c > 1)
                .map(|&c| c as f32 * (c as f32).log2())
                .sum::<f32>()
    };
    let plain = bits(&hist[0]);
    let (xor, minus) = (bits(&hist[1]), bits(&hist[2]));
    let (best, way) = if minus < xor {
        (minus, Green::Minus)
    } else {
        (xor, Green::Xor)
    };
    if best * 1024.0 < plain * TAKE_BELOW {
        way
    } else {
        Green::Plain
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn round_trip(values: &[u32]) -> Green {
        let mut planes = Vec::new();
        let green = write_planes(values, &mut planes);
        assert_eq!(planes.len(), values.len() * 4);
        let mut back = Vec::new();
        read_planes(&planes, green, &mut back);
        assert_eq!(back, values);
        green
    }

    /// A small deterministic generator (xorshift).
    fn noise(seed: &mut u64) -> u32 {
        *seed ^= *seed << 13;
        *seed ^= *seed >> 7;
        *seed ^= *seed << 17;
        (*seed >> 16) as u32
    }

    #[test]
    fn grey_xor_noise_codes_against_green() {
        let mut seed = 7u64;
        let values: Vec<u32> = (0..4096u32)
            .map(|i| {
                let base = ((i % 64 / 8) * 20) << 16 | ((i / 512) * 9) << 8 | 0x40;
                base ^ ((noise(&mut seed) & 0x0F) * 0x0001_0101)
            })
            .collect();
        assert_eq!(round_trip(&values), Green::Xor);
    }

    #[test]
    fn grey_added_noise_codes_as_difference() {
        let mut seed = 11u64;
        let values: Vec<u32> = (0..4096u32)
            .map(|i| {
                let n = noise(&mut seed) & 0x1F;
                let (r, g, b) = (90 + n + (i % 64) / 16, 60 + n, 120 + n);
                r << 16 | g << 8 | b
            })
            .collect();
        assert_eq!(round_trip(&values), Green::Minus);
    }

    #[test]
    fn independent_channels_stay_plain() {
        let mut seed = 3u64;
        let values: Vec<u32> = (0..4096).map(|_| noise(&mut seed) & 0x00FF_FFFF).collect();
        assert_eq!(round_trip(&values), Green::Plain);
    }

    #[test]
    fn every_coding_round_trips_any_bytes() {
        let mut seed = 5u64;
        let values: Vec<u32> = (0..777)
            .map(|_| noise(&mut seed) ^ (noise(&mut seed) << 16))
            .collect();
        for green in [Green::Plain, Green::Xor, Green::Minus] {
            let n = values.len();
            let mut planes = vec![0u8; n * 4];
            for (i, v) in values.iter().enumerate() {
                let [b, g, r, x] = v.to_le_bytes();
                let (b, r) = match green {
                    Green::Plain => (b, r),
                    Green::Xor => (b ^ g, r ^ g),
                    Green::Minus => (b.wrapping_sub(g), r.wrapping_sub(g)),
                };
                (
                    planes[i],
                    planes[n + i],
                    planes[2 * n + i],
                    planes[3 * n + i],
                ) = (b, g, r, x);
            }
            let mut back = Vec::new();
            read_planes(&planes, green, &mut back);
            assert_eq!(back, values, "{green:?}");
        }
    }

    #[test]
    fn wire_bytes_name_codings() {
        for green in [Green::Plain, Green::Xor, Green::Minus] {
            assert_eq!(Green::from_wire(green as u8), Some(green));
        }
        assert_eq!(Green::from_wire(3), None);
    }
}
