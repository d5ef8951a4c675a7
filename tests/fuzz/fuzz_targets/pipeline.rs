//! The whole pipeline on grammar-shaped formulas: compiled code against the
//! interpreter for the value, the gradient and (when small) the Hessian.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let mut u = arbitrary::Unstructured::new(data);
    if let Ok(case) = slope_fuzz::Case::build(&mut u) {
        slope_fuzz::check_pipeline(&case);
    }
});
