//! Products of constants that do not overflow on the way: each factor is
//! split into mantissa and exponent, so `1e300*1e300*1e-300` folds to
//! `1e300`, and a product too large for a double stays as finite factors.

/// A product of constants as `mantissa * 2^exponent`, with `|mantissa|` in
/// [0.5, 1) (or 0), so that it cannot overflow on the way.
#[derive(Clone, Copy, Debug, PartialEq)]
pub(super) struct Scaled {
    mantissa: f64,
    exponent: i64,
}

impl Scaled {
    pub(super) const ONE: Scaled = Scaled {
        mantissa: 0.5,
        exponent: 1,
    };
    /// The largest power of two a double holds.
    const TOP: i64 = 1023;

    pub(super) fn times(self, c: f64) -> Scaled {
        let (m, e) = frexp(c);
        let (mantissa, k) = frexp(self.mantissa * m);
        Scaled {
            mantissa,
            exponent: if mantissa == 0.0 {
                0
            } else {
                self.exponent + e + k
            },
        }
    }

    /// The product as a double, if it is finite (it may round to 0).
    pub(super) fn value(self) -> Option<f64> {
        if self.exponent > Self::TOP + 1 {
            return None;
        }
        Some(ldexp(self.mantissa, self.exponent)).filter(|v| v.is_finite())
    }

    /// Finite factors whose product this is: one with the mantissa, then
    /// as few `2^1023` as it takes.
    pub(super) fn factors(self) -> impl Iterator<Item = f64> {
        let q = (self.exponent - 2).div_euclid(Self::TOP).max(0);
        let first = ldexp(self.mantissa, self.exponent - q * Self::TOP);
        std::iter::once(first).chain((0..q).map(|_| ldexp(0.5, Self::TOP + 1)))
    }
}

/// `m * 2^e`, in steps that do not overflow on the way.
fn ldexp(mut m: f64, mut e: i64) -> f64 {
    while e != 0 {
        let step = e.clamp(-1000, 1000);
        m *= 2f64.powi(step as i32);
        e -= step;
    }
    m
}

/// `x` as `(m, e)` with `x = m * 2^e` and `|m|` in [0.5, 1), or `(x, 0)`
/// for zero and non-finite `x`.
fn frexp(x: f64) -> (f64, i64) {
    if x == 0.0 || !x.is_finite() {
        return (x, 0);
    }
    let bits = x.to_bits();
    let biased = ((bits >> 52) & 0x7ff) as i64;
    if biased == 0 {
        // Subnormal: scale into the normal range first.
        let (m, e) = frexp(x * 2f64.powi(64));
        return (m, e - 64);
    }
    let m = f64::from_bits((bits & !(0x7ff << 52)) | (1022 << 52));
    (m, biased - 1022)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn frexp_and_ldexp_are_inverse() {
        for x in [
            1.0,
            -3.5,
            1e300,
            -1e-300,
            5e-324,
            f64::MAX,
            f64::MIN_POSITIVE,
        ] {
            let (m, e) = frexp(x);
            assert!((0.5..1.0).contains(&m.abs()), "{x}: mantissa {m}");
            assert_eq!(ldexp(m, e), x);
        }
        assert_eq!(frexp(0.0), (0.0, 0));
    }
}
