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
            lo + (hi - lo) * u
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
