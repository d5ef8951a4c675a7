//! `check --grad`: "proved" implies equal (see `slope_fuzz::check_hand`).
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let mut u = arbitrary::Unstructured::new(data);
    let _ = slope_fuzz::check_hand(&mut u);
});
