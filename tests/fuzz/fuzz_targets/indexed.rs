//! Indexed formulas from arbitrary text, at small sizes: whatever parses
//! and binds compiles, and its native loops give the interpreter's value
//! and gradient to the bit. Seed inputs: `slope_fuzz::INDEXED_SEEDS`, each
//! after two bytes (the size n and the point), e.g.
//! `printf '\x04\x00param n = 4\nvar x[1..n]\nsum(i in 1..n, x[i]^2)'`.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    slope_fuzz::check_indexed(data);
});
