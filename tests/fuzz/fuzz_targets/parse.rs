//! The parser and lowering on arbitrary bytes: any text either becomes a
//! formula or an error whose span lies within it and which renders.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    slope_fuzz::check_parse(data);
});
