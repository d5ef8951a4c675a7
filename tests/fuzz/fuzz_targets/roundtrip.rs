//! The printer round trip on grammar-shaped formulas: every printed value
//! and partial parses back to the same function, and printing is idempotent.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let mut u = arbitrary::Unstructured::new(data);
    if let Ok(case) = slope_fuzz::Case::build(&mut u) {
        slope_fuzz::check_roundtrip(&case);
    }
});
