//! The crate's random numbers: points drawn from a box, for multi-start
//! searches and for derivative checks.
//!
//! The generator is SplitMix64, written out here rather than taken from a
//! library, so that a seed names the same points on every platform and in
//! every version of slope: a reported seed reproduces a run, and tests can
//! state the points a seed gives. A library generator's stream may change
//! between its releases, and with it every seeded result.

/// A reproducible random start inside `bounds` (SplitMix64: fixed across
/// versions and platforms, unlike a library generator's stream).
pub fn random_start(bounds: &[(f64, f64)], seed: u64) -> Vec<f64> {
    let mut state = seed;
    bounds
        .iter()
        .map(|&(lo, hi)| {
            state = state.wrapping_add(0x9e37_79b9_7f4a_7c15);
            let mut z = state;
            z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
            z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
            z ^= z >> 31;
            let u = (z >> 11) as f64 / (1u64 << 53) as f64;
            // The width of a box that spans most of the double range
            // overflows; the weighted mean does not (and the finite case
            // keeps its old form, so seeds name the same points).
            let width = hi - lo;
            if width.is_finite() {
                lo + width * u
            } else {
                lo * (1.0 - u) + hi * u
            }
        })
        .collect()
}

/// The start of run `k` of a multi-start search from `seed`: each run gets
/// its own well-mixed seed, so adding runs never changes the earlier ones.
pub fn start_of_run(bounds: &[(f64, f64)], seed: u64, k: usize) -> Vec<f64> {
    random_start(
        bounds,
        seed ^ (k as u64).wrapping_mul(0xd1b5_4a32_d192_ed03),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn points_stay_in_a_box_as_wide_as_the_double_range() {
        let bounds = [(-f64::MAX, f64::MAX), (-1e308, 1e308), (0.0, 1.0)];
        for seed in 0..1000 {
            let x = random_start(&bounds, seed);
            for (v, (lo, hi)) in x.iter().zip(bounds) {
                assert!(v.is_finite() && (lo..=hi).contains(v), "{v} in {lo}:{hi}");
            }
        }
    }
}
